/**
 * startTestServer(): a real taskwire server on 127.0.0.1, port 0, with a fixed
 * test secret and API key, for integration tests.
 *
 * - `token(claims)`: an HS256 client token signed with the test secret.
 * - `api(method, path, body?, {token?, headers?})`: real HTTP via fetch. `path` is
 *   relative to `/api/v1` (`/tasks`), unless it starts with `/api/`, `/healthz`
 *   or `/readyz`. Auth: the API key by default; `token: '<jwt>'` uses that token,
 *   `token: null` sends no Authorization header. The body is sent as JSON (a
 *   string is sent as is). The answer's body is parsed JSON (text otherwise).
 * - Logs are silent unless `logDestination` is given (then level `trace` unless
 *   `logLevel` says otherwise).
 */
import type { ServerConfig } from '../../src/config/types.js';
import { signDevToken } from '../../src/config/resolve.js';
import { createServer, type StandaloneServer } from '../../src/app/create-server.js';

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
export const TEST_API_KEY = 'test-api-key-0123456789abcdef';

export interface TestClaims {
  sub: string;
  admin?: boolean;
  channels?: string[];
  publish?: string[];
  /** Absolute expiry, seconds since the epoch. */
  exp?: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface ApiOptions {
  /** A JWT; null → no Authorization header; undefined → the API key. */
  token?: string | null;
  headers?: Record<string, string>;
  /** Abort the request (the promise then rejects). */
  signal?: AbortSignal;
}

export interface TestServer {
  server: StandaloneServer;
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port>/api/v1/ws */
  wsUrl: string;
  apiKey: string;
  token(claims: TestClaims): Promise<string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  api<T = any>(method: string, path: string, body?: unknown, opts?: ApiOptions): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

export async function startTestServer(
  overrides: Partial<ServerConfig> & { logDestination?: NodeJS.WritableStream } = {},
): Promise<TestServer> {
  const { logDestination, ...config } = overrides;
  const server = await createServer({
    jwtSecret: TEST_JWT_SECRET,
    apiKey: TEST_API_KEY,
    logLevel: logDestination ? 'trace' : 'silent',
    engine: 'memory',
    ...config,
    port: config.port ?? 0,
    host: config.host ?? '127.0.0.1',
    ...(logDestination ? { logDestination } : {}),
  });
  const { url } = await server.listen();
  const base = url;
  return {
    server,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/api/v1/ws`,
    apiKey: server.ctx.config.apiKey ?? TEST_API_KEY,
    token: (claims) => signDevToken(server.ctx.config, claims),
    async api<T>(method: string, path: string, body?: unknown, opts: ApiOptions = {}): Promise<ApiResponse<T>> {
      const full = /^\/(api\/|healthz|readyz)/.test(path) ? path : `/api/v1${path}`;
      const headers: Record<string, string> = { ...opts.headers };
      const token = opts.token === undefined ? server.ctx.config.apiKey : opts.token;
      if (token !== null && token !== undefined) headers.authorization ??= `Bearer ${token}`;
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(base + full, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
      return { status: res.status, body: parsed as T, headers: res.headers };
    },
    close: () => server.close(),
  };
}
