/** @taskwire/client: one connection, recovery, task handles. No runtime dependencies. */
export { createClient, TaskwireClient, type ClientOptions, type ClientEvents, type TransportExtras } from './client.js';
export { TaskHandle, ChannelHandle, TasksHandle, type TasksNotice } from './handles.js';
export { StreamHandle, type StreamState } from './stream.js';
export type { ChannelNotice, SubscriptionState } from './subscription.js';
export type { RetryEvent, StateEvent } from './connection.js';
export { LocalCode, type ConnectionState } from './machine.js';
export { TaskwireClientError, type ClientErrorCode } from './errors.js';
export { backoffCeiling, STABLE_AFTER_MS, type BackoffOptions } from './backoff.js';
// The close codes after which the client waits at least `backoff.longMinMs` (1013, 4008, 4029).
export { wantsLongBackoff } from '@taskwire/protocol';
export type { TransportName } from './fallback.js';
export type {
  Transport,
  TransportFactory,
  TransportHandlers,
  WebSocketConstructor,
  WebSocketLike,
} from './transport.js';
export type { Task, TaskStatus, EventFrame, Position } from '@taskwire/protocol';
