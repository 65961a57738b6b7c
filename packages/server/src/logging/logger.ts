/**
 * The pino logger, built so that a credential never reaches a log line
 * (failure mode 11):
 * - requests are logged as `{method, url, remoteAddress}` with `token=`, `ticket=`
 *   (and `api_key=`/`apiKey=`) query values replaced by `[redacted]`; headers are
 *   never logged;
 * - credential-named fields (`token`, `ticket`, `apiKey`, `authorization`,
 *   `jwtSecret`, …) are redacted wherever they appear at the top two levels;
 * - as a last line of defence every string in a log record, the message included,
 *   is scrubbed of `token=…`, `ticket=…` and `Bearer …`.
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

export const REDACTED = '[redacted]';

const QUERY_SECRET = /([?&;](?:access_)?(?:token|ticket|api_?key|apikey)=)[^&#\s"']*/gi;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
const JWT_LIKE = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

/** A URL with its credential query values replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  return url.replace(QUERY_SECRET, `$1${REDACTED}`);
}

/** Scrub any credential-looking part of a string. */
export function redactString(s: string): string {
  return redactUrl(s).replace(BEARER, `$1${REDACTED}`).replace(JWT_LIKE, REDACTED);
}

const SECRET_KEYS = [
  'token',
  'ticket',
  'apiKey',
  'api_key',
  'authorization',
  'cookie',
  'jwtSecret',
  'secret',
  'password',
  'metricsToken',
];

interface RequestLike {
  method?: string;
  url?: string;
  ip?: string;
  socket?: { remoteAddress?: string; remotePort?: number } | null;
}

export const serializers = {
  req(req: RequestLike): Record<string, unknown> {
    return {
      method: req.method,
      url: typeof req.url === 'string' ? redactUrl(req.url) : undefined,
      remoteAddress: req.ip ?? req.socket?.remoteAddress,
    };
  },
  res(res: { statusCode?: number }): Record<string, unknown> {
    return { statusCode: res.statusCode };
  },
  err(err: Error): unknown {
    return scrub({ ...pino.stdSerializers.err(err) }, 1);
  },
};

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactString(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  // Errors: left to the `err` serializer below, which scrubs its output.
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const proto: unknown = Object.getPrototypeOf(value);
  // Requests, replies, sockets: left to their serializers (which never log headers or raw URLs).
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.includes(k) ? REDACTED : scrub(v, depth + 1);
  return out;
}

export interface CreateLoggerOptions {
  level: LoggerOptions['level'];
  /** Where JSON lines go (default stdout). Tests pass a stream to capture them. */
  destination?: NodeJS.WritableStream | DestinationStream;
  /** Bindings added to every line. */
  base?: Record<string, unknown>;
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: opts.base ?? { name: 'taskwire' },
    serializers,
    redact: {
      paths: [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), 'req.headers', 'headers'],
      censor: REDACTED,
    },
    formatters: {
      log: (obj) => scrub(obj, 0) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const clean = args.map((a) => (typeof a === 'string' ? redactString(a) : a)) as Parameters<typeof method>;
        method.apply(this, clean);
      },
    },
  };
  const dest = opts.destination;
  if (dest === undefined) return pino(options);
  return pino(options, dest);
}
