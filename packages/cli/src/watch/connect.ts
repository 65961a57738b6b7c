/**
 * Where `taskwire watch` connects and with which token: `--url` (http(s):// or
 * ws(s)://), `--token`, or an admin token signed with `--jwt-secret` (fresh ones
 * on demand, so a long watch survives expiry).
 */
import { OPTIONS, signDevToken } from '@taskwire/server';
import { DEFAULT_URL } from '../client.js';
import { UsageError } from '../errors.js';

const secretOption = OPTIONS.find((o) => o.key === 'jwtSecret');
export const SECRET_FLAG = secretOption?.flag ?? '--jwt-secret';
export const SECRET_ENV = secretOption?.env ?? 'TASKWIRE_JWT_SECRET';

export interface Endpoints {
  /** `ws://host:port/api/v1/ws` */
  ws: string;
  /** `http://host:port/api/v1` */
  api: string;
}

export function endpoints(url: string | undefined): Endpoints {
  const raw = (url ?? DEFAULT_URL).trim().replace(/\/+$/, '');
  const m = /^(http|https|ws|wss):\/\/([^/\s?#]+)(\/[^\s?#]*)?$/.exec(raw);
  if (!m) throw new UsageError(`--url must be an http(s):// or ws(s):// URL, got ${JSON.stringify(raw)}`);
  const [, scheme = 'http', host = '', path = ''] = m;
  const secure = scheme === 'https' || scheme === 'wss';
  // A path is the server's prefix (a reverse proxy), minus the API's own suffixes if given.
  const prefix = path.replace(/\/api\/v1(\/ws)?$/, '');
  return {
    ws: `${secure ? 'wss' : 'ws'}://${host}${prefix}/api/v1/ws`,
    api: `${secure ? 'https' : 'http'}://${host}${prefix}/api/v1`,
  };
}

export interface Credentials {
  token?: string;
  getToken?: () => Promise<string>;
  /** Where the token came from, for messages. */
  source: string;
}

/** `--token` (or TASKWIRE_TOKEN) wins; else an admin token signed with the secret; else a usage error. */
export function credentials(token: string | undefined, secret: string | undefined): Credentials {
  if (token) return { token, source: '--token' };
  if (secret) {
    // A short-lived admin token, re-signed whenever the client asks (before expiry, after a 4001).
    const sign = (): Promise<string> =>
      signDevToken({ jwtSecret: secret, jwtAlgorithm: 'HS256' }, { sub: 'admin', admin: true, ttl: 600 });
    return { getToken: sign, source: SECRET_FLAG };
  }
  throw new UsageError(
    `missing --token: set --token or TASKWIRE_TOKEN to a client token, or ${SECRET_FLAG} / ${SECRET_ENV} to sign an admin token`,
  );
}
