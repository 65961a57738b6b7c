/**
 * Reads a JWT's `exp` without verifying it: the client only needs to know when to
 * refresh, and the server is the one that verifies. Returns undefined for tokens
 * without `exp` (they never expire) or that are not JWTs.
 */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When to refresh a token, ms from now: at 80 % of its remaining life (at most 60 s
 * before `exp`), never sooner than 1 s. `serverNow` is the server's clock from
 * `welcome`, so a client whose clock is off still refreshes in time.
 */
export function refreshDelay(expSeconds: number, serverNow: number): number {
  const remaining = expSeconds * 1000 - serverNow;
  const margin = Math.min(60_000, remaining * 0.2);
  return Math.max(1_000, remaining - margin);
}
