/**
 * Real taskwire nodes (createServer from @taskwire/server, port 0) sharing a Redis
 * through the Redis engine, with a fixed test secret and API key, and a small HTTP
 * helper. Tokens are HS256 JWTs signed here with the same secret.
 */
import { createHmac } from 'node:crypto';
import { createServer, type ServerConfig, type StandaloneServer } from '@taskwire/server';
import { createRedisEngine, type RedisEngineOptions } from '../../src/index.js';

export const JWT_SECRET = 'redis-multinode-secret-0123456789abcdef01234567';
export const API_KEY = 'redis-multinode-api-key-0123456789abcdef';

export interface Claims {
  sub: string;
  admin?: boolean;
  channels?: string[];
  publish?: string[];
}

export function token(claims: Claims): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ ...claims, iat: Math.floor(Date.now() / 1000) })}`;
  return `${head}.${createHmac('sha256', JWT_SECRET).update(head).digest('base64url')}`;
}

export interface ApiResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  body: any;
}

export interface TaskwireNode {
  name: string;
  server: StandaloneServer;
  url: string;
  wsUrl: string;
  api(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  close(): Promise<void>;
}

const open = new Set<TaskwireNode>();

export async function startNode(
  name: string,
  engine: RedisEngineOptions,
  config: Partial<ServerConfig> = {},
): Promise<TaskwireNode> {
  const server = await createServer({
    jwtSecret: JWT_SECRET,
    apiKey: API_KEY,
    logLevel: 'silent',
    ...config,
    port: 0,
    host: '127.0.0.1',
    engineFactory: (cfg) =>
      createRedisEngine({
        limits: { historySize: cfg.historySize, historyTtlMs: cfg.historyTtlMs },
        commandTimeoutMs: 1000,
        ...engine,
      }),
  });
  const { url } = await server.listen();
  let closing: Promise<void> | undefined;
  const node: TaskwireNode = {
    name,
    server,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/api/v1/ws`,
    async api(method, path, body) {
      const full = /^\/(healthz|readyz)/.test(path) ? path : `/api/v1${path}`;
      const headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + full, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      return { status: res.status, body: text && text.startsWith('{') ? (JSON.parse(text) as unknown) : text };
    },
    close() {
      closing ??= (async () => {
        open.delete(node);
        await server.close();
      })();
      return closing;
    },
  };
  open.add(node);
  return node;
}

/** Close every node still open (afterAll). */
export async function closeAllNodes(): Promise<void> {
  await Promise.allSettled(Array.from(open, (n) => n.close()));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll until `check` resolves true (bounded). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}
