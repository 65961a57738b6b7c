import { TASK_STATUSES, type TaskStatus } from '@taskwire/protocol';
import { parseCommandArgs, parseJsonArg, parseNumberArg, required } from '../args.js';
import { CLIENT_HELP, CLIENT_OPTIONS, createClient } from '../client.js';
import { UsageError } from '../errors.js';
import { printJson, type Command, type Io } from '../io.js';

const HELP = `Usage: taskwire task <create|update|get|list> [options]

Create, update and read tasks over the HTTP API; prints the task as JSON.

  taskwire task create --owner <user> [--title <text>] [--id <id>] [--stall-timeout-ms <ms>]
                       [--meta <json>] [--idempotency-key <key>]
  taskwire task update <id> [--status <status>] [--progress <0-100|null>] [--stage <text>]
                       [--message <text>] [--result <json>] [--error <message>] [--meta <json>]
  taskwire task get <id>
  taskwire task list [--owner <user>] [--status <status>] [--limit <n>] [--cursor <cursor>]

Statuses: ${TASK_STATUSES.join(', ')}.

${CLIENT_HELP}

An HTTP error prints "error <code>: <message>" on stderr and exits 1 (codes: docs/errors.md).`;

const SUBCOMMANDS = {
  create: {
    options: {
      owner: { type: 'string' },
      title: { type: 'string' },
      id: { type: 'string' },
      'stall-timeout-ms': { type: 'string' },
      meta: { type: 'string' },
      'idempotency-key': { type: 'string' },
    },
  },
  update: {
    options: {
      status: { type: 'string' },
      progress: { type: 'string' },
      stage: { type: 'string' },
      message: { type: 'string' },
      result: { type: 'string' },
      error: { type: 'string' },
      meta: { type: 'string' },
    },
  },
  get: { options: {} },
  list: {
    options: {
      owner: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
    },
  },
} as const;

type Sub = keyof typeof SUBCOMMANDS;

export const taskCommand: Command = {
  name: 'task',
  summary: 'create, update, get or list tasks (HTTP API)',
  help: () => HELP,
  async run(args: string[], io: Io): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === '--help' || sub === '-h') {
      io.out(HELP);
      return 0;
    }
    if (sub === undefined) throw new UsageError('missing subcommand: create, update, get or list');
    if (!Object.hasOwn(SUBCOMMANDS, sub))
      throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}: use create, update, get or list`);
    const { values, positionals } = parseCommandArgs(
      rest,
      { ...CLIENT_OPTIONS, ...SUBCOMMANDS[sub as Sub].options },
      true,
    );
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    const v = values as Record<string, string | undefined>;
    const client = createClient(values, io);
    const want = sub === 'create' || sub === 'list' ? 0 : 1;
    if (positionals.length !== want) {
      throw new UsageError(
        want === 0 ? `unexpected argument ${JSON.stringify(positionals[0])}` : `task ${sub} needs exactly one <id>`,
      );
    }
    const id = encodeURIComponent(positionals[0] ?? '');
    switch (sub as Sub) {
      case 'create':
        printJson(
          io,
          await client.request(
            'POST',
            '/tasks',
            createBody(v),
            v['idempotency-key'] ? { 'idempotency-key': v['idempotency-key'] } : {},
          ),
        );
        break;
      case 'update':
        printJson(io, await client.request('PATCH', `/tasks/${id}`, updateBody(v)));
        break;
      case 'get':
        printJson(io, await client.request('GET', `/tasks/${id}`));
        break;
      case 'list':
        printJson(io, await client.request('GET', `/tasks${listQuery(v)}`));
        break;
    }
    return 0;
  },
};

function createBody(v: Record<string, string | undefined>): Record<string, unknown> {
  const body: Record<string, unknown> = { owner: required(v.owner, '--owner', 'the user the task belongs to') };
  if (v.title !== undefined) body.title = v.title;
  if (v.id !== undefined) body.id = v.id;
  if (v['stall-timeout-ms'] !== undefined)
    body.stallTimeoutMs = parseNumberArg(v['stall-timeout-ms'], '--stall-timeout-ms', true);
  if (v.meta !== undefined) body.meta = parseJsonArg(v.meta, '--meta');
  return body;
}

function updateBody(v: Record<string, string | undefined>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (v.status !== undefined) body.status = status(v.status);
  if (v.progress !== undefined)
    body.progress = v.progress === 'null' ? null : parseNumberArg(v.progress, '--progress', false);
  if (v.stage !== undefined) body.stage = v.stage;
  if (v.message !== undefined) body.message = v.message;
  if (v.result !== undefined) body.result = parseJsonArg(v.result, '--result');
  if (v.error !== undefined) body.error = v.error;
  if (v.meta !== undefined) body.meta = parseJsonArg(v.meta, '--meta');
  if (Object.keys(body).length === 0)
    throw new UsageError(
      'nothing to update: give --status, --progress, --stage, --message, --result, --error or --meta',
    );
  return body;
}

function listQuery(v: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  if (v.owner !== undefined) q.set('owner', v.owner);
  if (v.status !== undefined) q.set('status', status(v.status));
  if (v.limit !== undefined) q.set('limit', String(parseNumberArg(v.limit, '--limit', true)));
  if (v.cursor !== undefined) q.set('cursor', v.cursor);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function status(text: string): TaskStatus {
  if (!(TASK_STATUSES as readonly string[]).includes(text))
    throw new UsageError(`--status must be one of ${TASK_STATUSES.join(', ')}, got ${JSON.stringify(text)}`);
  return text as TaskStatus;
}
