import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { ErrorBody, ErrorCode } from './errors.js';
import { jsonTextTooDeep, tooDeepMessage } from './json-depth.js';
import { LIMITS } from './limits.js';
import type { Task } from './task.js';

/** WebSocket protocol version (the `protocol` field of `welcome`). */
export const PROTOCOL_VERSION = 1;

const RequestId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Epoch = Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' });
const Offset = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Token = Type.String({ minLength: 1, maxLength: 16384 });
const ChannelName = Type.String({ minLength: 1, maxLength: 140 });

export const PositionSchema = Type.Object({ epoch: Epoch, offset: Offset }, { additionalProperties: false });
export type Position = Static<typeof PositionSchema>;

export const AuthFrame = Type.Object({ op: Type.Literal('auth'), token: Token });
export const SubscribeFrame = Type.Object({
  op: Type.Literal('subscribe'),
  id: RequestId,
  channel: ChannelName,
  since: Type.Optional(PositionSchema),
  history: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
});
export const UnsubscribeFrame = Type.Object({ op: Type.Literal('unsubscribe'), id: RequestId, channel: ChannelName });
export const PublishFrame = Type.Object({
  op: Type.Literal('publish'),
  id: RequestId,
  channel: ChannelName,
  data: Type.Unknown(),
  idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});
export const PingFrame = Type.Object({ op: Type.Literal('ping'), id: RequestId });
/** Protocol 1.1: a task stream's whole text so far (the permission of subscribing to `task:<task>`). */
export const StreamFrame = Type.Object({
  op: Type.Literal('stream'),
  id: RequestId,
  task: Type.String({ minLength: 1, maxLength: 128 }),
  stream: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
});
export const RefreshFrame = Type.Object({ op: Type.Literal('refresh'), id: RequestId, token: Token });

export type AuthFrame = Static<typeof AuthFrame>;
export type SubscribeFrame = Static<typeof SubscribeFrame>;
export type UnsubscribeFrame = Static<typeof UnsubscribeFrame>;
export type PublishFrame = Static<typeof PublishFrame>;
export type PingFrame = Static<typeof PingFrame>;
export type RefreshFrame = Static<typeof RefreshFrame>;
export type StreamFrame = Static<typeof StreamFrame>;
export type ClientFrame =
  AuthFrame | SubscribeFrame | UnsubscribeFrame | PublishFrame | PingFrame | RefreshFrame | StreamFrame;
export type ClientOp = ClientFrame['op'];

const SCHEMAS = {
  auth: AuthFrame,
  subscribe: SubscribeFrame,
  unsubscribe: UnsubscribeFrame,
  publish: PublishFrame,
  ping: PingFrame,
  refresh: RefreshFrame,
  stream: StreamFrame,
} satisfies Record<ClientOp, TSchema>;

export const CLIENT_OPS = Object.keys(SCHEMAS) as ClientOp[];

type Validator = {
  Check(value: unknown): boolean;
  Errors(value: unknown): Iterable<{ instancePath?: string; message?: string }>;
};
let validators: Record<ClientOp, Validator> | undefined;
function getValidators(): Record<ClientOp, Validator> {
  validators ??= Object.fromEntries(
    Object.entries(SCHEMAS).map(([op, schema]) => [op, Compile(schema) as unknown as Validator]),
  ) as Record<ClientOp, Validator>;
  return validators;
}

export type ParseResult =
  { ok: true; frame: ClientFrame } | { ok: false; id: number | undefined; op: string | undefined; message: string };

/** Parse and validate one client text frame. Never throws. */
export function parseClientFrame(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, id: undefined, op: undefined, message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, id: undefined, op: undefined, message: 'frame must be a JSON object' };
  }
  const rawId = (value as { id?: unknown }).id;
  const id = typeof rawId === 'number' && Number.isSafeInteger(rawId) && rawId >= 0 ? rawId : undefined;
  const op = (value as { op?: unknown }).op;
  // The frame object itself is one level: a value in it may nest LIMITS.jsonDepth deep.
  if (jsonTextTooDeep(text, LIMITS.jsonDepth + 1)) {
    return {
      ok: false,
      id,
      op: typeof op === 'string' ? op : undefined,
      message: tooDeepMessage('a value of this frame'),
    };
  }
  if (typeof op !== 'string' || !Object.hasOwn(SCHEMAS, op)) {
    return {
      ok: false,
      id,
      op: typeof op === 'string' ? op : undefined,
      message: `unknown op ${JSON.stringify(op ?? null)}`,
    };
  }
  const validator = getValidators()[op as ClientOp];
  if (!validator.Check(value)) {
    const first = [...validator.Errors(value)][0];
    const where = first?.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : 'frame';
    return { ok: false, id, op, message: `${op}: ${where} ${first?.message ?? 'is invalid'}` };
  }
  return { ok: true, frame: value as ClientFrame };
}

/* ---------- server → client ---------- */

export interface WelcomeFrame {
  type: 'welcome';
  protocol: number;
  connectionId: string;
  user: string;
  heartbeatMs: number;
  serverTime: number;
  /** The protocol 1.1 additions this server supports (docs/protocol.md §8); absent on a 1.0 server. */
  features?: Feature[];
}

/** The protocol 1.1 additions, named in `welcome.features`. */
export type Feature = 'batches' | 'streams' | 'webhooks' | 'retention';

/** What this version of taskwire serves of protocol 1.1. */
export const FEATURES: readonly Feature[] = ['batches', 'streams', 'retention'];

export interface SubscribeResult {
  channel: string;
  epoch: string;
  offset: number;
  /** Present only when the request carried `since`. */
  recovered?: boolean;
  events: EventFrame[];
  /** For `task:` channels: the current snapshot, or null. Absent for other channels. */
  snapshot?: Task | null;
}

export interface PublishResult {
  epoch: string;
  offset: number;
}

/** The reply to `stream`, and `GET /tasks/:id/streams/:stream`. */
export interface StreamTextResult {
  stream: string;
  text: string;
  chunks: number;
}

export type ReplyFrame =
  | { type: 'reply'; id: number; result: SubscribeResult | PublishResult | StreamTextResult | Record<string, never> }
  | { type: 'reply'; id: number; error: ErrorBody };

export interface EventFrame {
  type: 'event';
  channel: string;
  epoch: string;
  offset: number;
  time: number;
  data: unknown;
}

export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  message: string;
}

export interface UnsubscribedFrame {
  type: 'unsubscribed';
  channel: string;
  code: ErrorCode;
  message: string;
  resubscribe: boolean;
  /** Protocol 1.1: `deleted` when the task of a `task:` channel was deleted (code `not_found`, no resubscribe). */
  reason?: UnsubscribeReason;
}

/** Why the server ended a subscription, when it says (protocol 1.1). */
export type UnsubscribeReason = 'deleted';

export type ServerFrame = WelcomeFrame | ReplyFrame | EventFrame | ErrorFrame | UnsubscribedFrame;
