/**
 * `GET /api/v1/dev/token`: in `--dev` only, a short-lived (1 h) admin token for a
 * page opened on this machine, so the dashboard of `taskwire serve --dev` needs no
 * pasted token. Registered only when `config.dev` is true; even then it answers
 * only a request that comes straight from loopback:
 *
 * - the peer address is loopback (127.0.0.0/8, ::1, or ::ffff:127.x);
 * - no header a proxy adds (`Forwarded`, any `X-Forwarded-*`, `X-Real-IP`, `Via`,
 *   `True-Client-IP`, `CF-Connecting-IP`): a reverse proxy on the same machine would
 *   make every visitor look local;
 * - the `Host` header names a loopback host (localhost, 127.x, [::1]), so a page on
 *   another origin that rebinds its DNS name to 127.0.0.1 gets nothing.
 *
 * Anything else answers 404 `not_found`, exactly like a server without `--dev`.
 */
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { TaskwireError } from '@taskwire/protocol';
import { Type } from 'typebox';
import { signDevToken } from '../config/resolve.js';
import { SECURITY, errorResponses, jsonResponse } from './openapi-schemas.js';
import type { HttpContext, TypedApp } from './types.js';

/** Lifetime of a dev token, seconds. */
export const DEV_TOKEN_TTL_SEC = 3600;
/** The user the dev token is for. */
export const DEV_TOKEN_SUBJECT = 'admin';

const DevTokenResponse = Type.Object({
  token: Type.String({ description: 'An HS256 client token: `{"sub":"admin","admin":true}`, valid 1 h.' }),
  expiresAt: Type.String({ description: 'ISO 8601' }),
});

/** 127.0.0.0/8, ::1 and the IPv4-mapped ::ffff:127.x. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

/** `localhost`, `*.localhost`, a loopback IPv4 or `[::1]`, with or without a port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return false;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  const name = (bracketed ? bracketed[1]! : host.replace(/:\d+$/, '')).toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return isLoopbackAddress(name);
}

/** True only for a request made directly from this machine to a loopback name. */
/** Headers that proxies (nginx, Caddy, Envoy, CDNs) add to what they pass on. */
const PROXY_HEADERS = ['forwarded', 'via', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip'];

export function isDirectLoopbackRequest(req: FastifyRequest): boolean {
  const names = Object.keys(req.headers);
  if (names.some((h) => PROXY_HEADERS.includes(h) || h.startsWith('x-forwarded-'))) return false;
  return isLoopbackAddress(req.socket.remoteAddress) && isLoopbackHost(req.headers.host);
}

export function registerDevRoutes(app: TypedApp, ctx: HttpContext): void {
  if (!ctx.config.dev) return;
  const schema = {
    summary: 'A 1 h admin token for a local page (only with --dev, only from loopback)',
    description:
      'Registered only when the server runs with `--dev`, and answered only for a request made directly from loopback (127.0.0.0/8 or ::1, a loopback `Host`, no proxy headers); anything else is 404. The dashboard uses it so `taskwire serve --dev` needs no pasted token. Needs HS256 (`--jwt-secret`).',
    tags: ['auth'],
    security: SECURITY.none,
    response: { 200: jsonResponse('The token and its expiry.', DevTokenResponse), ...errorResponses(404) },
  };
  app.get('/dev/token', { schema }, async (req, reply) => {
    // The same answer as an unknown route, so the route's existence is not revealed either.
    if (!isDirectLoopbackRequest(req))
      throw new TaskwireError('not_found', `no route GET ${req.url.split('?')[0] ?? ''}`);
    const { config } = ctx;
    if (config.jwtAlgorithm !== 'HS256' || config.jwtSecret === null) {
      throw new TaskwireError('not_found', 'no dev token: the server verifies RS256/ES256 tokens and cannot sign one');
    }
    const exp = Math.floor(Date.now() / 1000) + DEV_TOKEN_TTL_SEC;
    const token = await signDevToken(config, { sub: DEV_TOKEN_SUBJECT, admin: true, exp });
    void reply.header('cache-control', 'no-store');
    return { token, expiresAt: new Date(exp * 1000).toISOString() };
  });
}
