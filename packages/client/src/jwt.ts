/**
 * Reads a JWT's claims without verifying them: the client only needs to know when
 * to refresh (`exp`) and, on the HTTP transports, who it is (`sub`); the server is
 * the one that verifies. Returns {} for anything that is not a JWT.
 */
export function tokenClaims(token: string): { exp?: unknown; sub?: unknown } {
  const payload = token.split('.')[1];
  if (payload === undefined) return {};
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims: unknown = JSON.parse(atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4)));
    return typeof claims === 'object' && claims !== null ? claims : {};
  } catch {
    return {};
  }
}

/** The token's `exp` (seconds), or undefined for tokens without one (they never expire) or that are not JWTs. */
export function tokenExpiry(token: string): number | undefined {
  const { exp } = tokenClaims(token);
  return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
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
