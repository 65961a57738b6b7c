/** Field limits of docs/protocol.md §4. A field over its limit is `bad_request`. */
export const LIMITS = {
  titleChars: 200,
  stageChars: 100,
  messageChars: 1000,
  /** How deeply objects and arrays may nest in a body, a frame, a task's meta or result, or published data. */
  jsonDepth: 64,
  /** result, meta, publish data, error details: bytes of their JSON encoding. */
  jsonBytes: 64 * 1024,
  logLinesPerCall: 100,
  logLineBytes: 4 * 1024,
  /** HTTP body limit; over it → 413 too_large. */
  bodyBytes: 1024 * 1024,
  approvalPromptChars: 1000,
  approvalOptions: 20,
  approvalOptionChars: 100,
  commentChars: 1000,
  errorMessageChars: 2000,
  idempotencyKeyChars: 200,
  /** How long a create `Idempotency-Key` is remembered: 24 h. */
  createIdempotencyTtlMs: 24 * 3600 * 1000,
  /** How long a publish `idempotencyKey` is remembered: 5 min. */
  publishIdempotencyTtlMs: 5 * 60 * 1000,
  /** Tasks per page of `GET /tasks` without `limit`, and at most. */
  listDefault: 50,
  listMax: 500,
  /** Events of a history read without `limit`. */
  historyDefault: 100,
  /** Tags per task. */
  tags: 10,
  /** One stream chunk: at most 64 KiB of UTF-8 (and at least one character). */
  streamChunkBytes: 64 * 1024,
  /** Streams per task. */
  streamsPerTask: 8,
  /** Default max stall timeout a task may ask for: 7 days. */
  maxStallTimeoutMs: 7 * 24 * 3600 * 1000,
} as const;

export const DEFAULT_STALL_TIMEOUT_MS = 60_000;

/** Byte length of a value's JSON encoding (UTF-8). */
export function jsonByteLength(value: unknown): number {
  const s = JSON.stringify(value);
  return s === undefined ? 0 : utf8Length(s);
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
