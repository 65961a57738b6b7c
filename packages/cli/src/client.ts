/**
 * The HTTP client behind `task` and `publish`: `--url`, `--api-key` (or `--token`),
 * one JSON request, and a coded error body turned into `error <code>: <message>`.
 */
import type { ParseArgsOptionsConfig } from 'node:util';
import { CommandError, UsageError } from './errors.js';
import type { Io } from './io.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export const CLIENT_HELP = `Connection:
  --url <url>        server URL (env TASKWIRE_URL, default ${DEFAULT_URL})
  --api-key <key>    backend API key (env TASKWIRE_API_KEY)
  --token <jwt>      a client token instead of the API key (env TASKWIRE_TOKEN; reads only)`;

export interface Client {
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<unknown>;
}

export function createClient(values: { url?: string; 'api-key'?: string; token?: string }, io: Io): Client {
  const base = (values.url ?? io.env.TASKWIRE_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  const credential = values['api-key'] ?? values.token ?? io.env.TASKWIRE_API_KEY ?? io.env.TASKWIRE_TOKEN;
  if (!credential) {
    throw new UsageError(
      'missing --api-key: set --api-key or TASKWIRE_API_KEY (printed by `taskwire serve --dev`), or --token',
    );
  }
  if (!/^https?:\/\/[^/\s]+/.test(base))
    throw new UsageError(`--url must be an http:// or https:// URL, got ${JSON.stringify(base)}`);
  return {
    async request(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${credential}`, ...headers } };
      if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers = { ...init.headers, 'content-type': 'application/json' };
      }
      let res: Response;
      try {
        res = await fetch(`${base}/api/v1${path}`, init);
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
        throw new CommandError(`error unavailable: cannot reach ${base} (${cause})`);
      }
      const text = await res.text();
      const parsed = parse(text);
      if (!res.ok) throw new CommandError(describeError(res.status, parsed, text));
      return parsed;
    },
  };
}

function parse(text: string): unknown {
  try {
    return text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

function describeError(status: number, body: unknown, text: string): string {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return `error ${code}: ${typeof message === 'string' ? message : ''}`;
  }
  return `error http_${status}: ${text.slice(0, 200) || 'no body'}`;
}
