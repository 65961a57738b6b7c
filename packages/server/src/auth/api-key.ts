/**
 * The backend API key, compared in constant time: both sides are hashed with
 * SHA-256 first so that `timingSafeEqual` gets equal lengths and the key's
 * length does not leak either.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type ApiKeyCheck = (value: string) => boolean;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function createApiKeyCheck(apiKey: string | null): ApiKeyCheck {
  if (apiKey === null || apiKey === '') return () => false;
  const expected = digest(apiKey);
  return (value: string): boolean => {
    if (typeof value !== 'string' || value.length === 0 || value.length > 4096) return false;
    return timingSafeEqual(digest(value), expected);
  };
}
