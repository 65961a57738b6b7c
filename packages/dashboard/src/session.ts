/**
 * Who is signed in: a client token kept in sessionStorage (gone when the tab
 * closes), its claims read without verifying (the server verifies), and the dev
 * token that `taskwire serve --dev` hands to a page opened on this machine.
 */
const KEY = 'taskwire.token';
const DEV_KEY = 'taskwire.dev';

export interface Session {
  token: string;
  user: string;
  admin: boolean;
  /** Seconds since the epoch, or null when the token never expires. */
  exp: number | null;
  /** Came from GET /api/v1/dev/token: renewable without asking the user. */
  dev: boolean;
}

/** The claims of a JWT, or an error message saying why it is not one. */
export function readToken(token: string, dev = false): Session | string {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts[1]) return 'This is not a JWT (three base64url parts separated by dots).';
  let claims: unknown;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    claims = JSON.parse(json);
  } catch {
    return 'The token’s payload is not readable JSON.';
  }
  if (typeof claims !== 'object' || claims === null) return 'The token’s payload is not an object.';
  const { sub, admin, exp } = claims as { sub?: unknown; admin?: unknown; exp?: unknown };
  if (typeof sub !== 'string' || sub === '') return 'The token has no `sub` (user id).';
  return { token: token.trim(), user: sub, admin: admin === true, exp: typeof exp === 'number' ? exp : null, dev };
}

export function loadSession(): Session | null {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  const session = readToken(token, sessionStorage.getItem(DEV_KEY) === '1');
  return typeof session === 'string' ? null : session;
}

export function saveSession(session: Session | null): void {
  if (session) {
    sessionStorage.setItem(KEY, session.token);
    sessionStorage.setItem(DEV_KEY, session.dev ? '1' : '0');
  } else {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(DEV_KEY);
  }
}

/** The dev token, when this server runs with --dev and the page is on loopback; else null. */
export async function fetchDevToken(apiBase: string, signal?: AbortSignal): Promise<Session | null> {
  try {
    const res = await fetch(`${apiBase}/dev/token`, { signal: signal ?? null, cache: 'no-store' });
    if (!res.ok) return null;
    const body = (await res.json()) as { token?: unknown };
    if (typeof body.token !== 'string') return null;
    const session = readToken(body.token, true);
    return typeof session === 'string' ? null : session;
  } catch {
    return null;
  }
}
