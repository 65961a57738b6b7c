import { signDevToken } from '../../../server/src/config/resolve.js';
import type { StandaloneServer } from '../../../server/src/app/create-server.js';
import { TEST_API_KEY } from '../../../server/test/helpers/server.js';

/** A backend call with the test API key; throws on a non-2xx answer. */
export async function api<T = unknown>(baseUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = {
    method,
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  };
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/api/v1${path}`, init);
  } catch {
    // A pooled keep-alive socket to a server we just restarted: the request never reached it.
    res = await fetch(`${baseUrl}/api/v1${path}`, init);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export function tokenFor(
  server: StandaloneServer,
  claims: { sub: string; channels?: string[]; exp?: number },
): Promise<string> {
  return signDevToken(server.ctx.config, claims);
}
