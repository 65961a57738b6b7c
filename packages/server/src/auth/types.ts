/** Who is calling, after the token, ticket or API key was checked. */
export interface Principal {
  /** The user id (`sub` claim); `api-key` for backends using the API key. */
  sub: string;
  admin: boolean;
  /** The backend API key: may do anything a backend may (task writes, publish, read any channel). */
  apiKey: boolean;
  /** Channel patterns from the token's `channels` claim. */
  channels: readonly string[];
  /** Channel patterns from the token's `publish` claim. */
  publish: readonly string[];
  /** Token expiry, ms since the Unix epoch, or null when it never expires. */
  expiresAt: number | null;
}

/** Why a credential was refused. `expired` maps to close 4001, everything else to 4501. */
export type AuthFailureReason = 'missing' | 'invalid' | 'expired' | 'ticket_invalid' | 'ticket_used';

export class AuthError extends Error {
  readonly reason: AuthFailureReason;
  constructor(reason: AuthFailureReason, message: string) {
    super(message);
    this.name = 'AuthError';
    this.reason = reason;
  }
}

export interface Authenticator {
  /** Verify a client JWT. Throws AuthError. Never logs the token. */
  verifyToken(token: string): Promise<Principal>;
  /** Constant-time comparison with the configured API key. */
  isApiKey(value: string): boolean;
  /** Issue a single-use ticket (valid 30 s) for a principal. */
  issueTicket(principal: Principal): Promise<{ ticket: string; expiresAt: string }>;
  /** Redeem a ticket once, on any node. Throws AuthError. */
  redeemTicket(ticket: string): Promise<Principal>;
}
