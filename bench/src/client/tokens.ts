/**
 * Client JWTs, HS256, signed with node:crypto in the load-generator processes before
 * a measured window (one distinct token per connection, so every server verifies a
 * real signature per connection and no target can cache a token it saw before).
 */
import { createHmac } from 'node:crypto';

export interface TokenClaims {
  sub: string;
  /** Patterns the token may subscribe to (taskwire's `channels` claim). */
  channels?: string[];
  /** Patterns the token may publish to (taskwire's `publish` claim). */
  publish?: string[];
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/** A compact HS256 JWT with `iat`, a random `jti` (distinct tokens) and the claims. */
export function signToken(secret: string, claims: TokenClaims, jti: string): string {
  const body = Buffer.from(JSON.stringify({ ...claims, iat: Math.floor(Date.now() / 1000), jti })).toString(
    'base64url',
  );
  const signature = createHmac('sha256', secret).update(`${HEADER}.${body}`).digest('base64url');
  return `${HEADER}.${body}.${signature}`;
}

/** What a worker needs to sign its clients' tokens: client `index` gets `sub` `<subPrefix><index>`. */
export interface TokenPlan {
  secret: string;
  subPrefix: string;
  channels: string[];
  publish?: string[];
  /** Distinguishes the tokens of one run from another's (jti = `<run>-<index>`). */
  run: string;
}

export function tokenFor(plan: TokenPlan, index: number): string {
  return signToken(
    plan.secret,
    {
      sub: `${plan.subPrefix}${index}`,
      channels: plan.channels,
      ...(plan.publish ? { publish: plan.publish } : {}),
    },
    `${plan.run}-${index}`,
  );
}
