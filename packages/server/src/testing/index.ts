/** Test helpers for engines in other packages (`@taskwire/server/testing`). */
export { runEngineConformance, type EngineConformanceOptions } from './conformance.js';
/** A complete Task snapshot with defaults, for engine tests (override any field). */
export { makeTask } from './helpers.js';
