import { isValidId, parseChannel } from '@taskwire/protocol';
import { parseCommandArgs, parseDuration } from '../args.js';
import { DEFAULT_URL } from '../client.js';
import { UsageError } from '../errors.js';
import type { Command, Io } from '../io.js';
import { credentials, endpoints, SECRET_ENV, SECRET_FLAG } from '../watch/connect.js';
import { plainRenderer, ttyRenderer, type Renderer, type TtyStream } from '../watch/render.js';
import { Session } from '../watch/session.js';
import { watchTask } from '../watch/task.js';
import { watchUser } from '../watch/user.js';

const HELP = `Usage: taskwire watch <task-id | user:<id>> [options]

Watch tasks live over the WebSocket: a progress bar per task with its status, stage
and message. On a terminal it draws bars; otherwise it prints a plain line on each
change: <id> <status> <progress>% <stage> — <message>.

  taskwire watch build-42              one task, until it ends
  taskwire watch user:alice            every unfinished task of alice, until Ctrl-C
  taskwire watch user:alice --until-idle

Exit status: 0 the task succeeded (user:<id> --until-idle: none failed); 1 it failed
or was cancelled (or the server could not be reached); 2 bad usage; 3 the task was
not found, or the token may not see it; 130 Ctrl-C.

Options:
  --until-idle            with user:<id>: exit once none of the user's tasks is queued,
                          running or awaiting approval
  --logs                  with a task id: print its log lines too
  --stream <name>         with a task id: the stream printed as it grows (default output)
  --no-stream             with a task id: print no stream
  --plain                 plain lines even on a terminal
  --connect-timeout <d>   give up if the first connection is not up in time (default 15s)
  -h, --help              this help

Connection:
  --url <url>             server URL (env TASKWIRE_URL, default ${DEFAULT_URL})
  --token <jwt>           a client token (env TASKWIRE_TOKEN): the task's owner, or admin
  ${SECRET_FLAG} <secret>   without a token: sign a short-lived admin token with the
                          server's HS256 secret (env ${SECRET_ENV}, printed by serve --dev)`;

/** Where watch draws: process.stdout, unless a test hands in another stream. */
export interface WatchStreams {
  stdout: TtyStream;
}

export const watchCommand: Command & {
  runWith(args: string[], io: Io, streams: WatchStreams): Promise<number>;
} = {
  name: 'watch',
  summary: 'watch a task (or user:<id>) live as progress bars; exit 0 on success',
  help: () => HELP,
  run(args: string[], io: Io): Promise<number> {
    return this.runWith(args, io, { stdout: process.stdout });
  },
  async runWith(args, io, streams) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        url: { type: 'string' },
        token: { type: 'string' },
        [SECRET_FLAG.slice(2)]: { type: 'string' },
        'until-idle': { type: 'boolean' },
        logs: { type: 'boolean' },
        stream: { type: 'string' },
        'no-stream': { type: 'boolean' },
        plain: { type: 'boolean' },
        'connect-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      true,
    );
    if (values.help === true) {
      io.out(HELP);
      return 0;
    }
    const [target, extra] = positionals;
    if (target === undefined || extra !== undefined)
      throw new UsageError('watch needs exactly one <task-id> or user:<id>');
    const user = target.startsWith('user:') ? parseChannel(target)?.id : undefined;
    if (target.startsWith('user:') && user === undefined)
      throw new UsageError(`${JSON.stringify(target)} is not user:<id> (1-128 characters of [A-Za-z0-9_.-@])`);
    if (user === undefined && !isValidId(target))
      throw new UsageError(`${JSON.stringify(target)} is not a task id (1-128 characters of [A-Za-z0-9_.-@])`);
    if (values['until-idle'] === true && user === undefined) throw new UsageError('--until-idle needs user:<id>');
    if (values.logs === true && user !== undefined)
      throw new UsageError('--logs needs a task id (user channels carry no logs)');
    const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
    const streamName = values['no-stream'] === true ? null : (str(values.stream) ?? 'output');
    if (streamName !== null && !isValidId(streamName))
      throw new UsageError(`${JSON.stringify(streamName)} is not a stream name`);
    const where = endpoints(str(values.url) ?? io.env.TASKWIRE_URL);
    const creds = credentials(
      str(values.token) ?? io.env.TASKWIRE_TOKEN,
      str(values[SECRET_FLAG.slice(2)]) ?? io.env[SECRET_ENV],
    );
    const timeout = str(values['connect-timeout']);
    const connectTimeoutMs = timeout === undefined ? 15_000 : parseDuration(timeout, '--connect-timeout') * 1000;

    const tty = streams.stdout.isTTY === true && values.plain !== true;
    const renderer: Renderer = tty
      ? ttyRenderer(streams.stdout, { multi: user !== undefined })
      : plainRenderer((line) => io.out(line));
    const session = new Session({
      endpoints: where,
      credentials: creds,
      renderer,
      err: (text) => io.err(text),
      connectTimeoutMs,
    });
    return user !== undefined
      ? watchUser(session, user, { untilIdle: values['until-idle'] === true })
      : watchTask(session, target, { logs: values.logs === true, stream: streamName });
  },
};
