/**
 * The backend API key (and the metrics token), compared in constant time without
 * leaking the key's length: the presented value is encoded into a scratch buffer and
 * compared with `timingSafeEqual`, against the key when the byte lengths match and
 * against itself when they do not, so the work depends only on the presented value's
 * length (which the caller knows), never on the key's length or content. No hash per
 * request (SHA-256 of both sides cost ~5 % of an HTTP task update).
 */
import { timingSafeEqual } from 'node:crypto';

export type ApiKeyCheck = (value: string) => boolean;

/** Longest value looked at, in UTF-16 code units (at most 3 UTF-8 bytes each). */
const MAX_CHARS = 4096;

export function createApiKeyCheck(apiKey: string | null): ApiKeyCheck {
  if (apiKey === null || apiKey === '') return () => false;
  const expected = Buffer.from(apiKey, 'utf8');
  const scratch = Buffer.alloc(MAX_CHARS * 3);
  return (value: string): boolean => {
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CHARS) return false;
    const given = scratch.subarray(0, scratch.write(value, 0, 'utf8'));
    const sameLength = given.length === expected.length;
    // Both branches compare `given.length` bytes: only which buffer is read differs.
    const equal = timingSafeEqual(given, sameLength ? expected : given);
    return equal && sameLength;
  };
}
