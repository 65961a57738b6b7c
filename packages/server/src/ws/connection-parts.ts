/**
 * Small parts of a Connection: why it closes (code, reason, error frame), its one
 * timer slot, and the bad-frame window.
 */
import { CloseCode, FEATURES, PROTOCOL_VERSION, TaskwireError, type ErrorCode } from '@taskwire/protocol';
import type { Principal } from '../auth/types.js';

/** A close: its code, the close reason (≤ 123 bytes) and, when set, the `error` frame sent first. */
export interface CloseSpec {
  readonly code: number;
  readonly reason: string;
  readonly error?: ErrorCode;
}

export const CLOSE = {
  authTimeout: { code: CloseCode.Unauthorized, reason: 'authentication timeout', error: 'unauthorized' },
  unauthorized: { code: CloseCode.Unauthorized, reason: 'unauthorized', error: 'unauthorized' },
  tokenExpired: { code: CloseCode.TokenExpired, reason: 'token expired', error: 'unauthorized' },
  connectionLimit: { code: CloseCode.ConnectionLimit, reason: 'connection limit reached', error: 'limit_exceeded' },
  badFrames: { code: CloseCode.ProtocolViolation, reason: 'too many bad frames', error: 'bad_request' },
  slowConsumer: { code: CloseCode.SlowConsumer, reason: 'slow consumer' },
  internal: { code: CloseCode.InternalError, reason: 'internal error', error: 'internal' },
  restarting: { code: CloseCode.ServiceRestart, reason: 'server restarting', error: 'unavailable' },
} as const satisfies Record<string, CloseSpec>;

/** At most one timer, counted in a shared counter (leak checks read it). */
export class TimerSlot {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly counter: { active: number }) {}

  set(ms: number, fn: () => void): void {
    this.clear();
    this.counter.active += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.counter.active -= 1;
      fn();
    }, ms);
    this.timer.unref();
  }

  clear(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.counter.active -= 1;
  }
}

/** Counts bad frames; `record()` returns true for the `limit`-th within `windowMs`. Allocates on first use. */
export class BadFrameWindow {
  private times: number[] | null = null;
  private index = 0;

  constructor(
    private readonly limit = 20,
    private readonly windowMs = 60_000,
  ) {}

  record(now = Date.now()): boolean {
    const ring = (this.times ??= new Array<number>(this.limit).fill(-Infinity));
    ring[this.index] = now;
    this.index = (this.index + 1) % this.limit;
    // After the write, the next slot holds the oldest of the last `limit` bad frames.
    return now - (ring[this.index] as number) < this.windowMs;
  }
}

/** A token counts as expired at `exp` + the clock leeway, as when it is verified; null: never. */
export function expiryOf(p: Principal, leewaySec: number): number | null {
  return p.expiresAt === null ? null : p.expiresAt + leewaySec * 1000;
}

/** The channel service answers only TaskwireErrors; anything else is a bug, answered `internal`. */
export function internalError(cause: unknown): TaskwireError {
  return new TaskwireError('internal', 'internal server error', { cause });
}

/** The constant head and tail of every `welcome` frame, serialized once. */
const WELCOME_HEAD = `{"type":"welcome","protocol":${JSON.stringify(PROTOCOL_VERSION)},"connectionId":`;
const WELCOME_TAIL = `,"features":${JSON.stringify(FEATURES)}}`;

/**
 * The `welcome` frame's text (docs/protocol.md §2; `features`: §8): the same text as
 * `JSON.stringify` of a WelcomeFrame with the keys in this order, without building one.
 */
export function welcomeFrame(connectionId: string, user: string, heartbeatMs: number): string {
  return `${WELCOME_HEAD}${JSON.stringify(connectionId)},"user":${JSON.stringify(user)},"heartbeatMs":${heartbeatMs},"serverTime":${Date.now()}${WELCOME_TAIL}`;
}
