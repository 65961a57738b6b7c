/**
 * The task list's opaque cursor, shared by every engine: the list is newest first
 * by (createdAt, id), and a cursor is the base64url of the last key returned.
 */
import { TaskwireError } from '@taskwire/protocol';

/** The sort key of the task list: createdAt, then id (both compared as strings; ISO dates sort as text). */
export type SortKey = readonly [createdAt: string, id: string];

export function compareKeys(a: SortKey, b: SortKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

/** The opaque cursor: base64url of the last returned sort key. */
export function encodeCursor(key: SortKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string): SortKey {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
    throw new TaskwireError('bad_request', 'invalid cursor');
  }
  return [value[0], value[1]];
}
