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

/**
 * The caller, on the request itself: a request decoration (a field every request of the
 * scope is constructed with), cheaper than a WeakMap entry per request.
 */
const PRINCIPAL = Symbol('taskwire.principal');
type Authenticated = FastifyRequest & { [PRINCIPAL]?: Principal | null };

export interface TaskwireRouteConfig {
  /** Accept `?token=` and `?ticket=` (SSE). */
  queryAuth?: boolean;
}

export function registerAuthHook(app: FastifyInstance, auth: Authenticator): void {
  app.decorateRequest(PRINCIPAL, null);
  // A callback hook, not an async one: the API key (every backend request) is checked
  // synchronously, with no promise per request; only a JWT or a ticket waits.
  app.addHook('onRequest', (req, _reply, done) => {
    let found: Principal | Promise<Principal> | null;
    try {
      found = authenticate(req, auth);
    } catch (err) {
      done(httpAuthError(err));
      return;
    }
    if (found === null) {
      done();
    } else if (isPromise(found)) {
      found.then(
        (p) => {
          (req as Authenticated)[PRINCIPAL] = p;
          done();
        },
        (err: unknown) => done(httpAuthError(err)),
      );
    } else {
      (req as Authenticated)[PRINCIPAL] = found;
      done();
    }
  });
}

const isPromise = (x: Principal | Promise<Principal>): x is Promise<Principal> =>
  typeof (x as { then?: unknown }).then === 'function';

/** An AuthError answers 401 `unauthorized`; anything else goes to the error handler as it is. */
function httpAuthError(err: unknown): Error {
  if (err instanceof AuthError) return new TaskwireError('unauthorized', err.message);
  return err instanceof Error ? err : new Error(String(err));
}

/** The caller: at once for the API key, later for a token or a ticket; null without credentials. */
function authenticate(req: FastifyRequest, auth: Authenticator): Principal | Promise<Principal> | null {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m?.[1]) throw new AuthError('invalid', 'Authorization header must be "Bearer <token>"');
    if (auth.isApiKey(m[1])) return API_KEY_PRINCIPAL;
    return auth.verifyToken(m[1]);
  }
  const config = req.routeOptions.config as TaskwireRouteConfig | undefined;
  if (config?.queryAuth === true) {
    const q = req.query as Record<string, unknown> | undefined;
    if (typeof q?.ticket === 'string') return auth.redeemTicket(q.ticket);
    if (typeof q?.token === 'string') {
      if (auth.isApiKey(q.token)) return API_KEY_PRINCIPAL;
      return auth.verifyToken(q.token);
    }
  }
  return null;
}

/** The caller, or 401. */
export function requirePrincipal(req: FastifyRequest): Principal {
  const p = (req as Authenticated)[PRINCIPAL];
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
