/**
 * WebSocket close codes. The range tells a client what to do:
 * 4000-4499 reconnect with backoff and recover; 4500-4999 terminal;
 * 1001, 1006, 1011, 1012, 1013 reconnect; 1000 no reconnect.
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Abnormal: 1006,
  TooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  TokenExpired: 4001,
  RateLimited: 4008,
  SlowConsumer: 4009,
  PositionLost: 4010,
  ConnectionLimit: 4029,
  ProtocolViolation: 4500,
  Unauthorized: 4501,
  Forbidden: 4503,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

const RETRYABLE_STANDARD = new Set<number>([1001, 1006, 1011, 1012, 1013]);

/** True when a client should reconnect (with backoff) after this close code. */
export function isRetryable(code: number): boolean {
  if (code >= 4000 && code <= 4499) return true;
  if (code >= 4500 && code <= 4999) return false;
  return RETRYABLE_STANDARD.has(code);
}

/** True when the close code asks the client to stop for good (4500-4999). */
export function isTerminal(code: number): boolean {
  return code >= 4500 && code <= 4999;
}

/** Codes after which a client should wait long (not the minimum backoff) before retrying. */
export function wantsLongBackoff(code: number): boolean {
  return code === CloseCode.RateLimited || code === CloseCode.ConnectionLimit || code === CloseCode.TryAgainLater;
}
