/**
 * JSON schemas of the HTTP API bodies (docs/protocol.md §4), as TypeBox schemas: the same
 * objects serve Fastify validation, the OpenAPI document and the TypeScript types.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { CHANNEL_PATTERN, ID_PATTERN } from './channels.js';
import { MAX_CHILDREN } from './batch.js';
import { LIMITS, utf8Length } from './limits.js';
import { TASK_STATUSES, type TaskStatus } from './task.js';
import { errorCodes } from './errors.js';

const Id = Type.String({ pattern: ID_PATTERN });
const Json = Type.Unknown();
const JsonObject = Type.Record(Type.String(), Type.Unknown());
const NullableText = (max: number) => Type.Union([Type.String({ maxLength: max }), Type.Null()]);
/** One of TASK_STATUSES (typed as TaskStatus: a mapped union would lose its literals). */
const Status = Type.Unsafe<TaskStatus>(Type.Union(TASK_STATUSES.map((s) => Type.Literal(s))));

export const TaskErrorSchema = Type.Object({
  message: Type.String({ maxLength: LIMITS.errorMessageChars }),
  code: Type.Optional(Type.String({ maxLength: 100 })),
});

export const ApprovalSchema = Type.Object({
  prompt: Type.String(),
  options: Type.Array(Type.String()),
  requestedAt: Type.String(),
  decision: Type.Union([Type.Literal('approve'), Type.Literal('reject'), Type.Null()]),
  comment: Type.Union([Type.String(), Type.Null()]),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  decidedAt: Type.Union([Type.String(), Type.Null()]),
});

const BatchSchema = Type.Object({
  progressFrom: Type.Union([Type.Literal('children'), Type.Literal('self')]),
  expectedChildren: Type.Integer({ minimum: 0 }),
  completeWhen: Type.Union([Type.Literal('children'), Type.Literal('self')]),
});
const ChildCountsSchema = Type.Object(
  Object.fromEntries(
    ['total', 'queued', 'running', 'stalled', 'awaiting_approval', 'succeeded', 'failed', 'cancelled'].map((k) => [
      k,
      Type.Integer({ minimum: 0 }),
    ]),
  ),
);
const StreamSummarySchema = Type.Object({ chunks: Type.Integer({ minimum: 0 }), bytes: Type.Integer({ minimum: 0 }) });

export const TaskSchema = Type.Object(
  {
    id: Type.String(),
    owner: Type.String(),
    title: Type.Union([Type.String(), Type.Null()]),
    status: Status,
    progress: Type.Union([Type.Number(), Type.Null()]),
    stage: Type.Union([Type.String(), Type.Null()]),
    message: Type.Union([Type.String(), Type.Null()]),
    result: Json,
    error: Type.Union([TaskErrorSchema, Type.Null()]),
    approval: Type.Union([ApprovalSchema, Type.Null()]),
    meta: JsonObject,
    stallTimeoutMs: Type.Integer(),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    startedAt: Type.Union([Type.String(), Type.Null()]),
    finishedAt: Type.Union([Type.String(), Type.Null()]),
    version: Type.Integer(),
    parentId: Type.Union([Type.String(), Type.Null()]),
    batch: Type.Union([BatchSchema, Type.Null()]),
    children: Type.Union([ChildCountsSchema, Type.Null()]),
    tags: Type.Array(Type.String()),
    streams: Type.Record(Type.String(), StreamSummarySchema),
  },
  { $id: 'Task' },
);

export const ErrorResponseSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(errorCodes.map((c) => Type.Literal(c))),
      message: Type.String(),
    }),
  },
  { $id: 'ErrorResponse' },
);

export const CreateTaskBody = Type.Object(
  {
    id: Type.Optional(Id),
    owner: Id,
    title: Type.Optional(NullableText(LIMITS.titleChars)),
    meta: Type.Optional(JsonObject),
    stallTimeoutMs: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.maxStallTimeoutMs })),
    parentId: Type.Optional(Id),
    batch: Type.Optional(
      Type.Object(
        {
          progressFrom: Type.Optional(Type.Union([Type.Literal('children'), Type.Literal('self')])),
          expectedChildren: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_CHILDREN })),
          completeWhen: Type.Optional(Type.Union([Type.Literal('children'), Type.Literal('self')])),
        },
        { additionalProperties: false },
      ),
    ),
    tags: Type.Optional(Type.Array(Id, { maxItems: LIMITS.tags })),
  },
  { additionalProperties: false },
);
export type CreateTaskBody = Static<typeof CreateTaskBody>;

export const UpdateTaskBody = Type.Object(
  {
    status: Type.Optional(Status),
    progress: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 100 }), Type.Null()])),
    stage: Type.Optional(NullableText(LIMITS.stageChars)),
    message: Type.Optional(NullableText(LIMITS.messageChars)),
    result: Type.Optional(Json),
    error: Type.Optional(
      Type.Union([Type.String({ maxLength: LIMITS.errorMessageChars }), TaskErrorSchema, Type.Null()]),
    ),
    meta: Type.Optional(JsonObject),
  },
  { additionalProperties: false },
);
export type UpdateTaskBody = Static<typeof UpdateTaskBody>;

/** One log line: at most `logLineBytes` bytes of UTF-8. */
export const LogLine = Type.Refine(
  Type.String({ description: `At most ${LIMITS.logLineBytes} bytes of UTF-8.` }),
  (line) => utf8Length(line) <= LIMITS.logLineBytes,
  () => `must be at most ${LIMITS.logLineBytes} bytes of UTF-8`,
);

export const LogsBody = Type.Object(
  {
    lines: Type.Array(LogLine, {
      minItems: 1,
      maxItems: LIMITS.logLinesPerCall,
    }),
  },
  { additionalProperties: false },
);
export type LogsBody = Static<typeof LogsBody>;

export const ApprovalBody = Type.Object(
  {
    prompt: Type.String({ minLength: 1, maxLength: LIMITS.approvalPromptChars }),
    options: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: LIMITS.approvalOptionChars }), {
        maxItems: LIMITS.approvalOptions,
      }),
    ),
  },
  { additionalProperties: false },
);
export type ApprovalBody = Static<typeof ApprovalBody>;

export const DecisionBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]),
    comment: Type.Optional(NullableText(LIMITS.commentChars)),
  },
  { additionalProperties: false },
);
export type DecisionBody = Static<typeof DecisionBody>;

export const PublishBody = Type.Object(
  {
    data: Json,
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.idempotencyKeyChars })),
  },
  { additionalProperties: false },
);
export type PublishBody = Static<typeof PublishBody>;

export const TaskIdParams = Type.Object({ id: Id });
export const StreamParams = Type.Object({ id: Id, stream: Id });

/** `POST /tasks/:id/stream`: one chunk of a stream (`output` when not named). */
export const StreamBody = Type.Object(
  {
    text: Type.Refine(
      Type.String({ minLength: 1, description: `1 character to ${LIMITS.streamChunkBytes / 1024} KiB of UTF-8.` }),
      (text) => utf8Length(text) <= LIMITS.streamChunkBytes,
      () => `must be at most ${LIMITS.streamChunkBytes} bytes of UTF-8`,
    ),
    stream: Type.Optional(Id),
    index: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'The chunk\u2019s number, for safe retries: a chunk whose index the stream already has is not appended again; a later one is 409.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type StreamBody = Static<typeof StreamBody>;

export const StreamAppendResponse = Type.Object({ stream: Type.String(), chunks: Type.Integer() });
/** `DELETE /tasks/:id`: the task deleted and how many tasks its tree held (itself included). */
export const DeleteTaskResponse = Type.Object({ taskId: Type.String(), deleted: Type.Integer({ minimum: 1 }) });
export const StreamTextResponse = Type.Object({ stream: Type.String(), text: Type.String(), chunks: Type.Integer() });
export const ChannelParams = Type.Object({ channel: Type.String({ pattern: CHANNEL_PATTERN }) });

export const ListTasksQuery = Type.Object(
  {
    owner: Type.Optional(Id),
    status: Type.Optional(Status),
    parent: Type.Optional(Id),
    tag: Type.Optional(Id),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.listMax, default: LIMITS.listDefault })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type ListTasksQuery = Static<typeof ListTasksQuery>;

/** `GET /webhooks/messages` (protocol 1.1 §8 webhooks). */
export const WebhookListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('failed'), Type.Literal('delivered')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.listMax, default: LIMITS.listDefault })),
    cursor: Type.Optional(Type.String({ pattern: '^msg_[A-Za-z0-9]{1,64}$' })),
  },
  { additionalProperties: false },
);
export const WebhookParams = Type.Object({ id: Type.String({ pattern: '^msg_[A-Za-z0-9]{1,64}$' }) });
const WebhookAttemptSchema = Type.Object({
  at: Type.String({ description: 'ISO 8601' }),
  status: Type.Union([Type.Integer(), Type.Null()], { description: 'The HTTP status; null without an answer.' }),
  error: Type.Optional(Type.String()),
});
export const WebhookMessageSchema = Type.Object({
  id: Type.String({ description: 'The `webhook-id` of every attempt.' }),
  type: Type.String(),
  taskId: Type.String(),
  endpoint: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('failed'), Type.Literal('delivered')]),
  createdAt: Type.String(),
  nextAt: Type.Union([Type.String(), Type.Null()], { description: 'When a pending message is due next.' }),
  attempts: Type.Array(WebhookAttemptSchema),
});
export type WebhookMessage = Static<typeof WebhookMessageSchema>;
export const WebhookListResponse = Type.Object({
  messages: Type.Array(WebhookMessageSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const HistoryQuery = Type.Object(
  {
    since: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}:[0-9]{1,16}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: LIMITS.historyDefault })),
    wait: Type.Optional(Type.Number({ minimum: 0, maximum: 60 })),
  },
  { additionalProperties: false },
);
export type HistoryQuery = Static<typeof HistoryQuery>;

export const TicketResponse = Type.Object({ ticket: Type.String(), expiresAt: Type.String() });
export type TicketResponse = Static<typeof TicketResponse>;

/** The `Idempotency-Key` header of `POST /tasks`: 1-200 printable ASCII characters. */
export const IdempotencyKey = Type.Refine(
  Type.String({ description: `1-${LIMITS.idempotencyKeyChars} printable ASCII characters.` }),
  (key) => key.length >= 1 && key.length <= LIMITS.idempotencyKeyChars && /^[\x21-\x7e]+$/.test(key),
  () => `must be 1-${LIMITS.idempotencyKeyChars} printable ASCII characters`,
);

export const CreateTaskHeaders = Type.Object({ 'idempotency-key': Type.Optional(IdempotencyKey) });

/** A JSON pointer as a field path: `/lines/2` → `lines[2]`, `/meta/a` → `meta.a`. */
export function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

type Checker = {
  Check(value: unknown): boolean;
  Errors(value: unknown): Iterable<{ instancePath?: string; message?: string }>;
};
const checkers = new WeakMap<TSchema, Checker>();

/**
 * The first problem of `value` against one of these schemas, as one line
 * (`lines[2] must be at most 4096 bytes of UTF-8`), or null when it is valid. For
 * callers that do not come through the HTTP API's validation (the task service).
 */
export function firstProblem(schema: TSchema, value: unknown, name = 'value'): string | null {
  let checker = checkers.get(schema);
  if (!checker) checkers.set(schema, (checker = Compile(schema) as unknown as Checker));
  if (checker.Check(value)) return null;
  for (const e of checker.Errors(value)) {
    const path = fieldPath(e.instancePath ?? '');
    return `${path === '' ? name : path} ${e.message ?? 'is invalid'}`;
  }
  return `${name} is invalid`;
}
