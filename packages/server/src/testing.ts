/** Test helpers for engines in other packages (`@taskwire/server/testing`). */
export { runEngineConformance, type EngineConformanceOptions } from './engine/conformance.js';
