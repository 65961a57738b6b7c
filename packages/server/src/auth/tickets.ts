/**
 * Single-use tickets (docs/protocol.md §2 "Token refresh and tickets"): a short-lived
 * credential a client gets with its JWT (`POST /api/v1/tickets`) and puts in a URL
 * (`?ticket=`) so that the long-lived token need not travel there.
 *
 * Stateless and multi-node safe: a ticket is `base64url(payload).base64url(mac)`,
 * the payload `{sub, admin, channels, publish, tokenExp, exp, jti}` and the MAC an
 * HMAC-SHA256 keyed by HKDF(API key, info 'taskwire-ticket'), so any node with the
 * same API key can check it. Redeeming checks the MAC (constant time), the expiry,
 * then claims `ticket:<jti>` in the engine for 60 s, so it works once on any node.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { isValidPattern } from '@taskwire/protocol';
import type { Engine } from '../engine/types.js';
import { AuthError, type Principal } from './types.js';

export const TICKET_TTL_MS = 30_000;
const CLAIM_TTL_MS = 60_000;
const MAX_TICKET_LENGTH = 8192;

interface TicketPayload {
  sub: string;
  admin: boolean;
  channels: string[];
  publish: string[];
  /** The issuing token's expiry (ms) or null. */
  tokenExp: number | null;
  /** The ticket's expiry (ms). */
  exp: number;
  jti: string;
}

export interface Tickets {
  issue(principal: Principal, now?: number): { ticket: string; expiresAt: string };
  redeem(ticket: string, now?: number): Promise<Principal>;
}

/** `secret` is the API key (shared by every node); null → a random per-process key. */
export function createTickets(secret: string | null, engine: Pick<Engine, 'claim'>): Tickets {
  const ikm = secret ?? randomBytes(32).toString('base64url');
  const key = Buffer.from(hkdfSync('sha256', ikm, 'taskwire', 'taskwire-ticket', 32));
  const mac = (data: string): Buffer => createHmac('sha256', key).update(data).digest();

  return {
    issue(principal, now = Date.now()) {
      const payload: TicketPayload = {
        sub: principal.sub,
        admin: principal.admin,
        channels: [...principal.channels],
        publish: [...principal.publish],
        tokenExp: principal.expiresAt,
        exp: now + TICKET_TTL_MS,
        jti: randomBytes(16).toString('base64url'),
      };
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return { ticket: `${body}.${mac(body).toString('base64url')}`, expiresAt: new Date(payload.exp).toISOString() };
    },

    async redeem(ticket, now = Date.now()) {
      if (typeof ticket !== 'string' || ticket.length === 0) throw new AuthError('missing', 'no ticket');
      const dot = ticket.indexOf('.');
      if (ticket.length > MAX_TICKET_LENGTH || dot <= 0) throw new AuthError('ticket_invalid', 'ticket malformed');
      const body = ticket.slice(0, dot);
      const given = Buffer.from(ticket.slice(dot + 1), 'base64url');
      const expected = mac(body);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new AuthError('ticket_invalid', 'ticket signature invalid');
      }
      const payload = parsePayload(body);
      if (payload.exp <= now) throw new AuthError('ticket_invalid', 'ticket expired');
      if (payload.tokenExp !== null && payload.tokenExp <= now) throw new AuthError('expired', 'token expired');
      if (!(await engine.claim(`ticket:${payload.jti}`, CLAIM_TTL_MS)))
        throw new AuthError('ticket_used', 'ticket already used');
      return {
        sub: payload.sub,
        admin: payload.admin,
        apiKey: false,
        channels: payload.channels,
        publish: payload.publish,
        expiresAt: payload.tokenExp,
      };
    },
  };
}

function parsePayload(body: string): TicketPayload {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new AuthError('ticket_invalid', 'ticket malformed');
  }
  const p = v as Partial<TicketPayload> | null;
  const ok =
    p !== null &&
    typeof p === 'object' &&
    typeof p.sub === 'string' &&
    typeof p.admin === 'boolean' &&
    Array.isArray(p.channels) &&
    p.channels.every(isValidPattern) &&
    Array.isArray(p.publish) &&
    p.publish.every(isValidPattern) &&
    (p.tokenExp === null || typeof p.tokenExp === 'number') &&
    typeof p.exp === 'number' &&
    typeof p.jti === 'string';
  if (!ok) throw new AuthError('ticket_invalid', 'ticket malformed');
  return p as TicketPayload;
}
