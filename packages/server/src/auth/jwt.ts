/**
 * Client JWT verification with `jose` (docs/protocol.md §3).
 *
 * - The algorithm is pinned by configuration: HS256 with `jwtSecret`, or RS256 /
 *   ES256 with `jwtPublicKey` (PEM). A token with any other `alg`, `none`
 *   included, is refused.
 * - Claims: `sub` (required, non-empty string), `exp` (optional; a token without
 *   it never expires; `clockLeewaySec` of leeway), `channels` and `publish`
 *   (optional arrays of valid patterns: an exact channel name or a prefix ending
 *   in `*`), `admin` (optional boolean).
 * - An expired token → AuthError('expired') (WebSocket close 4001); anything else →
 *   AuthError('invalid') (close 4501). Messages never include the token.
 * - Tokens that verified are remembered (a reconnect storm presents them again) by
 *   their SHA-256, never by their text: see `VerifiedTokens`.
 */
import { createPublicKey, hash, webcrypto, type KeyObject } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { isValidPattern } from '@taskwire/protocol';
import type { ServerConfig } from '../config/types.js';
import { AuthError, type Principal } from './types.js';

export type JwtConfig = Pick<ServerConfig, 'jwtAlgorithm' | 'jwtSecret' | 'jwtPublicKey' | 'clockLeewaySec'>;

export type JwtVerifier = (token: string) => Promise<Principal>;

const MAX_TOKEN_LENGTH = 16 * 1024;

export function createJwtVerifier(config: JwtConfig): JwtVerifier {
  const alg = config.jwtAlgorithm;
  const key = verificationKey(config);
  // HS256: import the secret once; given bytes, jose imports them on every verification.
  let hmacKey: Promise<webcrypto.CryptoKey> | null = null;
  const keyOf = (): Promise<webcrypto.CryptoKey> | KeyObject =>
    key instanceof Uint8Array
      ? (hmacKey ??= webcrypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']))
      : key;
  const verified = new VerifiedTokens(MAX_CACHED_TOKENS, config.clockLeewaySec);
  const lists = new PatternLists(MAX_SHARED_LISTS);
  return async (token: string): Promise<Principal> => {
    if (typeof token !== 'string' || token.length === 0) throw new AuthError('missing', 'no token');
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthError('invalid', 'token too long');
    const digest = tokenDigest(token);
    const known = verified.get(digest);
    if (known) return known;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keyOf(), {
        algorithms: [alg],
        clockTolerance: config.clockLeewaySec,
      }));
    } catch (err) {
      throw toAuthError(err, alg);
    }
    const principal = principalFromClaims(payload, lists);
    verified.set(digest, principal);
    return principal;
  };
}

/** Verified tokens kept for reconnects (a storm presents the same tokens again). */
const MAX_CACHED_TOKENS = 10_000;
/** Distinct `channels` / `publish` lists shared between Principals. */
const MAX_SHARED_LISTS = 1_000;

/**
 * The cache key of a token: its SHA-256 (43 characters of base64url). Equal digests mean
 * the very same token bytes (a SHA-256 collision is infeasible), so a hit is only ever
 * for a token that verified; and an entry holds 43 characters instead of the token
 * (one distinct token per connection used to keep every connection's token alive).
 */
function tokenDigest(token: string): string {
  return hash('sha256', token, 'base64url');
}

/**
 * Tokens that verified, by digest, with their Principal (the same object the connection
 * holds), until `exp` + leeway; bounded (the oldest goes first). Only successes are kept,
 * so a bad token is always verified (and refused).
 */
class VerifiedTokens {
  private readonly map = new Map<string, Principal>();

  constructor(
    private readonly max: number,
    private readonly leewaySec: number,
  ) {}

  get(digest: string): Principal | null {
    const p = this.map.get(digest);
    if (!p) return null;
    if (p.expiresAt !== null && p.expiresAt + this.leewaySec * 1000 <= Date.now()) {
      this.map.delete(digest);
      return null;
    }
    return p;
  }

  set(digest: string, p: Principal): void {
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(digest, p);
  }
}

const NO_PATTERNS: readonly string[] = Object.freeze([]);

/**
 * One frozen array per distinct list of patterns: the many tokens that grant the same
 * `channels` (say `["room:*"]`) share one array instead of each Principal keeping the
 * copy its token's JSON was parsed into. Bounded: past `max` lists, a new one is frozen
 * and used as it is.
 */
class PatternLists {
  private readonly lists = new Map<string, readonly string[]>();

  constructor(private readonly max: number) {}

  share(patterns: string[]): readonly string[] {
    if (patterns.length === 0) return NO_PATTERNS;
    // Patterns never contain a space (isValidPattern), so the joined text names the list.
    const key = patterns.join(' ');
    const known = this.lists.get(key);
    if (known) return known;
    const list = Object.freeze(patterns);
    if (this.lists.size < this.max) this.lists.set(key, list);
    return list;
  }
}

function verificationKey(config: JwtConfig): Uint8Array | KeyObject {
  if (config.jwtAlgorithm === 'HS256') {
    if (config.jwtSecret === null) throw new Error('HS256 needs jwtSecret');
    return new TextEncoder().encode(config.jwtSecret);
  }
  if (config.jwtPublicKey === null) throw new Error(`${config.jwtAlgorithm} needs jwtPublicKey`);
  return createPublicKey(config.jwtPublicKey);
}

function toAuthError(err: unknown, alg: string): AuthError {
  if (err instanceof errors.JWTExpired) return new AuthError('expired', 'token expired');
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new AuthError('invalid', `token algorithm not allowed (expected ${alg})`);
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AuthError('invalid', 'token signature invalid');
  if (err instanceof errors.JWTClaimValidationFailed)
    return new AuthError('invalid', `token claim invalid: ${err.claim}`);
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid)
    return new AuthError('invalid', 'token malformed');
  return new AuthError('invalid', 'token invalid');
}

/** Validate the claims of a verified token and turn them into a Principal. */
function principalFromClaims(payload: JWTPayload, lists: PatternLists): Principal {
  const { sub, admin, channels, publish, exp } = payload as JWTPayload & Record<string, unknown>;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128) {
    throw new AuthError('invalid', 'token claim invalid: sub must be a non-empty string');
  }
  if (admin !== undefined && typeof admin !== 'boolean')
    throw new AuthError('invalid', 'token claim invalid: admin must be a boolean');
  return {
    sub,
    admin: admin === true,
    apiKey: false,
    channels: lists.share(patterns(channels, 'channels')),
    publish: lists.share(patterns(publish, 'publish')),
    expiresAt: typeof exp === 'number' ? exp * 1000 : null,
  };
}

function patterns(value: unknown, claim: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 1000 || !value.every((p) => isValidPattern(p))) {
    throw new AuthError('invalid', `token claim invalid: ${claim} must be an array of channel patterns`);
  }
  return value;
}
