/** `taskwire watch <task-id>`: one task's bar until it ends; 0 succeeded, 1 failed or cancelled, 3 not found. */
import { isTaskEventData, isTerminalStatus } from '@taskwire/protocol';
import { exitCodeOf } from './format.js';
import { EXIT, refusalCode, type Session } from './session.js';

export function watchTask(session: Session, id: string, opts: { logs: boolean }): Promise<number> {
  const { client, renderer } = session;
  const handle = client.task(id);
  session.onEnd(() => handle.release());
  handle.subscribe((n) => {
    if (session.ended) return;
    switch (n.type) {
      case 'snapshot': {
        const task = n.task;
        if (task === null) return session.finish(EXIT.notFound, `error not_found: task ${id} not found`);
        renderer.update(task);
        if (isTerminalStatus(task.status)) session.finish(exitCodeOf(task));
        return;
      }
      case 'event': {
        const data = n.event.data;
        if (opts.logs && isTaskEventData(data) && data.kind === 'task.log')
          for (const line of data.lines) renderer.note(`${id} log: ${line}`);
        return;
      }
      case 'state':
        if (n.state === 'unsubscribed' && n.error)
          session.finish(refusalCode(n.error.code), `error ${n.error.code}: ${n.error.message}`);
        return;
      case 'resync':
        return;
    }
  });
  client.connect();
  return session.done;
}
