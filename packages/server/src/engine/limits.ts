/**
 * An engine's limits: history size and age, and how long a publish idempotency key
 * is remembered. The defaults are the server's (`--history-size`, `--history-ttl-ms`,
 * and the protocol's 5 minutes), defined once in config/options.ts and protocol's LIMITS.
 */
import { LIMITS } from '@taskwire/protocol';
import { defaultOf } from '../config/options.js';
import type { EngineLimits } from './types.js';

export const DEFAULT_ENGINE_LIMITS: Readonly<EngineLimits> = Object.freeze({
  historySize: defaultOf('historySize'),
  historyTtlMs: defaultOf('historyTtlMs'),
  idempotencyTtlMs: LIMITS.publishIdempotencyTtlMs,
});

/** The given limits over the defaults (undefined ones ignored); each must be a positive integer (RangeError). */
export function resolveEngineLimits(given: Partial<EngineLimits> = {}): EngineLimits {
  const set = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const limits: EngineLimits = { ...DEFAULT_ENGINE_LIMITS, ...set };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`engine limit ${name} must be a positive integer`);
  }
  return limits;
}
