/**
 * Random identifiers drawn from the system CSPRNG: task ids, channel epochs (engines
 * use `newEpoch`) and WebSocket connection ids.
 *
 * The bytes come from a pool filled 4 KB at a time (`randomFillSync`), as Node's own
 * `randomUUID` caches its entropy: one `randomBytes` call per id cost ~4-6 µs (a
 * buffer, a native call) on every connect and every new channel; taking bytes from
 * the pool costs a fraction of that. Every byte is used once, so ids stay as
 * unpredictable as before.
 */
import { randomFillSync } from 'node:crypto';

const BASE62 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'latin1');
const BASE64URL = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let next = POOL_SIZE;
/** Where an id's characters are written before they become one flat string (no rope of concatenations). */
const scratch = Buffer.alloc(64);

/** The index of `n` unused random bytes in the pool (refilled when fewer are left). */
function take(n: number): number {
  if (next + n > POOL_SIZE) {
    randomFillSync(pool);
    next = 0;
  }
  const at = next;
  next += n;
  return at;
}

/** `prefix` + `length` characters of [A-Za-z0-9] (about 5.95 bits each). */
function base62(prefix: string, length: number): string {
  if (prefix.length + length > scratch.length) throw new RangeError(`an id of at most ${scratch.length} characters`);
  let n = scratch.write(prefix, 'latin1');
  const end = n + length;
  while (n < end) {
    const byte = pool[take(1)] as number;
    // 248 = 4 × 62: rejecting bytes above it keeps the characters uniform.
    if (byte < 248) scratch[n++] = BASE62[byte % 62] as number;
  }
  return scratch.toString('latin1', 0, end);
}

/** `length` (at most 64) characters of [A-Za-z0-9] (about 5.95 bits each). */
export function randomBase62(length: number): string {
  return base62('', length);
}

/** A fresh channel epoch: 12 characters of [A-Za-z0-9] (a subset of the protocol's [A-Za-z0-9_-]{1,32}). */
export function newEpoch(): string {
  return base62('', 12);
}

/** `t_` + 16 random base62 characters (~95 bits). */
export function newTaskId(): string {
  return base62('t_', 16);
}

/** A WebSocket connection id: `c_` + 16 characters of [A-Za-z0-9_-] (96 random bits). */
export function newConnectionId(): string {
  scratch[0] = 0x63; // c
  scratch[1] = 0x5f; // _
  for (let i = 2; i < 18; i++) scratch[i] = BASE64URL[(pool[take(1)] as number) & 63] as number;
  return scratch.toString('latin1', 0, 18);
}
