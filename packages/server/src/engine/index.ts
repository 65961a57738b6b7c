/**
 * `@taskwire/server/engine`: what an engine author needs, and nothing that loads
 * the server (no Fastify, no SQLite, no WebSocket). An engine implements `Engine`
 * (./types.ts), takes its limits with `resolveEngineLimits`, pages the task list
 * with the shared cursor, and passes `runEngineConformance` from
 * `@taskwire/server/testing`. `LocalFanout` delivers committed events in-process
 * (for engines whose storage is in this process).
 */
export type * from './types.js';
export { DEFAULT_ENGINE_LIMITS, resolveEngineLimits } from './limits.js';
export { encodeCursor, decodeCursor, compareKeys, type SortKey } from './cursor.js';
export { LocalFanout } from './local-fanout.js';
export { collectTree, deletedData, finishedMs, treeRefusal } from './retention.js';
export { newEpoch } from '../util/random-id.js';
