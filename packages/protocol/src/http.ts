/**
 * JSON schemas of the HTTP API bodies (PROTOCOL §4), as TypeBox schemas: the same
 * objects serve Fastify validation, the OpenAPI document and the TypeScript types.
 */
import { Type, type Static } from 'typebox';
import { CHANNEL_PATTERN, ID_PATTERN } from './channels.js';
import { LIMITS } from './limits.js';
import { TASK_STATUSES } from './task.js';
import { errorCodes } from './errors.js';

const Id = Type.String({ pattern: ID_PATTERN });
const Json = Type.Unknown();
const JsonObject = Type.Record(Type.String(), Type.Unknown());
const NullableText = (max: number) => Type.Union([Type.String({ maxLength: max }), Type.Null()]);
const Status = Type.Union(TASK_STATUSES.map((s) => Type.Literal(s)));

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

export const LogsBody = Type.Object(
  {
    lines: Type.Array(Type.String({ maxLength: LIMITS.logLineBytes }), {
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
export const ChannelParams = Type.Object({ channel: Type.String({ pattern: CHANNEL_PATTERN }) });

export const ListTasksQuery = Type.Object(
  {
    owner: Type.Optional(Id),
    status: Type.Optional(Status),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type ListTasksQuery = Static<typeof ListTasksQuery>;

export const HistoryQuery = Type.Object(
  {
    since: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}:[0-9]{1,16}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 100 })),
    wait: Type.Optional(Type.Number({ minimum: 0, maximum: 60 })),
  },
  { additionalProperties: false },
);
export type HistoryQuery = Static<typeof HistoryQuery>;

export const TicketResponse = Type.Object({ ticket: Type.String(), expiresAt: Type.String() });
export type TicketResponse = Static<typeof TicketResponse>;
