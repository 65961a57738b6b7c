/**
 * `taskwire watch <task-id>`: one task's bar until it ends, and its `output` stream (or
 * another, or none) printed line by line as it grows; 0 succeeded, 1 failed or
 * cancelled, 3 not found.
 */
import { isTaskEventData, isTerminalStatus, type Task } from '@taskwire/protocol';
import { exitCodeOf } from './format.js';
import { EXIT, refusalCode, type Session } from './session.js';
import { printStream } from './stream.js';

export function watchTask(
  session: Session,
  id: string,
  opts: { logs: boolean; stream: string | null },
): Promise<number> {
  const { client, renderer } = session;
  const handle = client.task(id);
  session.onEnd(() => handle.release());
  const output = opts.stream === null ? null : printStream(handle, opts.stream, (line) => renderer.note(line));
  session.onEnd(() => output?.release());
  /** The end waits for the stream's last chunks (at most a few seconds). */
  const end = (task: Task): void => {
    if (!output) return session.finish(exitCodeOf(task));
    void output.settled(3000).then(() => session.finish(exitCodeOf(task)));
  };
  handle.subscribe((n) => {
    if (session.ended) return;
    switch (n.type) {
      case 'snapshot': {
        const task = n.task;
        if (task === null) return session.finish(EXIT.notFound, `error not_found: task ${id} not found`);
        renderer.update(task);
        if (isTerminalStatus(task.status)) end(task);
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
