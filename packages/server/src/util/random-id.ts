/**
 * Random identifiers drawn uniformly from [A-Za-z0-9] with the system CSPRNG: task
 * ids and channel epochs (engines use `newEpoch`).
 */
import { randomBytes } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of [A-Za-z0-9] (about 5.95 bits each). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length + 8)) {
      // 248 = 4 × 62: rejecting bytes above it keeps the characters uniform.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** A fresh channel epoch: 12 characters of [A-Za-z0-9] (a subset of the protocol's [A-Za-z0-9_-]{1,32}). */
export function newEpoch(): string {
  return randomBase62(12);
}

/** `t_` + 16 random base62 characters (~95 bits). */
export function newTaskId(): string {
  return `t_${randomBase62(16)}`;
}
