/**
 * The Authenticator (auth/types.ts): client JWTs (./jwt.ts), the backend API key
 * (./api-key.ts) and single-use tickets (./tickets.ts), built once from the config.
 */
import type { ServerConfig } from '../config/types.js';
import type { Engine } from '../engine/types.js';
import { createApiKeyCheck } from './api-key.js';
import { createJwtVerifier } from './jwt.js';
import { createTickets } from './tickets.js';
import type { Authenticator, Principal } from './types.js';

/** The Principal of a backend calling with the API key. */
export const API_KEY_PRINCIPAL: Principal = Object.freeze({
  sub: 'api-key',
  admin: false,
  apiKey: true,
  channels: Object.freeze([]),
  publish: Object.freeze([]),
  expiresAt: null,
});

export function createAuthenticator(config: ServerConfig, engine: Pick<Engine, 'claim'>): Authenticator {
  const verify = createJwtVerifier(config);
  const isApiKey = createApiKeyCheck(config.apiKey);
  const tickets = createTickets(config.apiKey ?? config.jwtSecret, engine);
  return {
    verifyToken: verify,
    isApiKey,
    issueTicket: (principal) => Promise.resolve(tickets.issue(principal)),
    redeemTicket: (ticket) => tickets.redeem(ticket),
  };
}
