/**
 * HTTP authentication for the `/api/v1` routes (the WebSocket route does its own,
 * after the handshake). `Authorization: Bearer <credential>`: the API key first
 * (constant-time), else a client JWT. `?token=` / `?ticket=` are accepted only on
 * routes that opt in with `config: { queryAuth: true }` (the SSE route, for
 * `EventSource`, per docs/protocol.md §4). Invalid credentials → 401 `unauthorized`;
 * no credentials → the route decides (most answer 401).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TaskwireError } from '@taskwire/protocol';
import { API_KEY_PRINCIPAL } from '../auth/authenticator.js';
import { AuthError, type Authenticator, type Principal } from '../auth/types.js';

const principals = new WeakMap<FastifyRequest, Principal>();

export interface TaskwireRouteConfig {
  /** Accept `?token=` and `?ticket=` (SSE). */
  queryAuth?: boolean;
}

export function registerAuthHook(app: FastifyInstance, auth: Authenticator): void {
  app.addHook('onRequest', async (req) => {
    const p = await authenticate(req, auth);
    if (p) principals.set(req, p);
  });
}

async function authenticate(req: FastifyRequest, auth: Authenticator): Promise<Principal | null> {
  const header = req.headers.authorization;
  try {
    if (header !== undefined) {
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
      if (!m?.[1]) throw new AuthError('invalid', 'Authorization header must be "Bearer <token>"');
      if (auth.isApiKey(m[1])) return API_KEY_PRINCIPAL;
      return await auth.verifyToken(m[1]);
    }
    const config = req.routeOptions.config as TaskwireRouteConfig | undefined;
    if (config?.queryAuth === true) {
      const q = req.query as Record<string, unknown> | undefined;
      if (typeof q?.ticket === 'string') return await auth.redeemTicket(q.ticket);
      if (typeof q?.token === 'string') {
        if (auth.isApiKey(q.token)) return API_KEY_PRINCIPAL;
        return await auth.verifyToken(q.token);
      }
    }
    return null;
  } catch (err) {
    if (err instanceof AuthError) throw new TaskwireError('unauthorized', err.message);
    throw err;
  }
}

/** The caller, or 401. */
export function requirePrincipal(req: FastifyRequest): Principal {
  const p = principals.get(req);
  if (!p) throw new TaskwireError('unauthorized', 'credentials required: Authorization: Bearer <token or API key>');
  return p;
}

/** Backend routes: the API key only (a client token → 403). */
export function requireApiKey(req: FastifyRequest): Principal {
  const p = requirePrincipal(req);
  if (!p.apiKey) throw new TaskwireError('forbidden', 'this route needs the API key (backends only)');
  return p;
}

/** Admin token or API key. */
export function requireAdminOrApiKey(req: FastifyRequest): Principal {
  const p = requirePrincipal(req);
  if (!p.apiKey && !p.admin) throw new TaskwireError('forbidden', 'this route needs an admin token or the API key');
  return p;
}
