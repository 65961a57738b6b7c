/**
 * The pino logger, built so that a credential never reaches a log line
 * (failure mode 11):
 * - requests are logged as `{method, url, remoteAddress}`; in the URL every query
 *   value is replaced by `[redacted]` except those of an allow-list of parameters
 *   that never carry a secret (`since`, `limit`, `wait`, …), names compared after
 *   percent-decoding (so `%74oken=` is `token=`); headers are never logged;
 * - credential-named fields (`token`, `ticket`, `apiKey`, `authorization`,
 *   `jwtSecret`, …) are redacted wherever they appear at the top two levels;
 * - as a last line of defence every string in a log record, the message included,
 *   is scrubbed of `token=…`, `ticket=…` and `Bearer …`.
 */
import type { FastifyBaseLogger } from 'fastify';
import {
  pino,
  type Bindings,
  type ChildLoggerOptions,
  type Logger,
  type LoggerOptions,
  type DestinationStream,
} from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const REDACTED = '[redacted]';

/** Query parameters whose values are logged: none of them ever carries a credential. */
const LOGGED_PARAMS = new Set([
  'since',
  'limit',
  'wait',
  'owner',
  'status',
  'cursor',
  'lastEventId',
  'history',
  'parent',
  'tag',
]);
/** Names that carry credentials, looked for in free text (messages, error strings). */
const SECRET_PARAM = /^(?:access_)?(?:token|ticket|api_?key|apikey)$/i;
const QUERY_PAIR = /([?&;])([^=&#\s"'?;]{1,100})=([^&#\s"';]*)/g;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
const JWT_LIKE = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

/** A query parameter's name as the server reads it (`+` is a space, `%74` a `t`); malformed escapes left as they are. */
function paramName(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** A request URL for the log: the path, and the query with every value not on the allow-list `[redacted]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const pairs = url
    .slice(q + 1)
    .split(/[&;]/)
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = paramName(eq < 0 ? pair : pair.slice(0, eq));
      const shown = encodeURIComponent(name).slice(0, 100);
      return LOGGED_PARAMS.has(name)
        ? `${shown}=${eq < 0 ? '' : pair.slice(eq + 1, eq + 201)}`
        : `${shown}=${REDACTED}`;
    });
  return `${url.slice(0, q)}?${pairs.join('&')}`;
}

/** Scrub any credential-looking part of a free string: credential query values, bearer tokens, JWTs. */
export function redactString(s: string): string {
  return s
    .replace(QUERY_PAIR, (all, sep: string, raw: string) =>
      SECRET_PARAM.test(paramName(raw)) ? `${sep}${raw}=${REDACTED}` : all,
    )
    .replace(BEARER, `$1${REDACTED}`)
    .replace(JWT_LIKE, REDACTED);
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

type Clean = (s: string) => string;

function serializersFor(clean: Clean): LoggerOptions['serializers'] {
  return {
    req(req: RequestLike): Record<string, unknown> {
      return {
        method: req.method,
        url: typeof req.url === 'string' ? clean(redactUrl(req.url)) : undefined,
        remoteAddress: req.ip ?? req.socket?.remoteAddress,
      };
    },
    res(res: { statusCode?: number }): Record<string, unknown> {
      return { statusCode: res.statusCode };
    },
    err(err: Error): unknown {
      return scrub({ ...pino.stdSerializers.err(err) }, 1, clean);
    },
  };
}

function scrub(value: unknown, depth: number, clean: Clean): unknown {
  if (typeof value === 'string') return clean(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  // Errors: left to the `err` serializer below, which scrubs its output.
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1, clean));
  const proto: unknown = Object.getPrototypeOf(value);
  // Requests, replies, sockets: left to their serializers (which never log headers or raw URLs).
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.includes(k) ? REDACTED : scrub(v, depth + 1, clean);
  return out;
}

/** `redactString`, and every occurrence of the given secrets (the API key, the JWT secret) replaced. */
function cleanerFor(secrets: ReadonlyArray<string | null | undefined>): Clean {
  const known = secrets.filter((x): x is string => typeof x === 'string' && x.length >= 8);
  if (known.length === 0) return redactString;
  return (text) => {
    let out = redactString(text);
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
}

export interface CreateLoggerOptions {
  level: LoggerOptions['level'];
  /** Where JSON lines go (default stdout). Tests pass a stream to capture them. */
  destination?: NodeJS.WritableStream | DestinationStream;
  /** Bindings added to every line. */
  base?: Record<string, unknown>;
  /** Values never written, wherever they appear (the API key, the JWT secret, the metrics token). */
  secrets?: ReadonlyArray<string | null | undefined>;
  /** `json` (default): one JSON object per line; `pretty`: human-readable lines (pino-pretty), same redaction. */
  format?: 'json' | 'pretty';
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const clean = cleanerFor(opts.secrets ?? []);
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: opts.base ?? { name: 'taskwire' },
    serializers: serializersFor(clean),
    redact: {
      paths: [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), 'req.headers', 'headers'],
      censor: REDACTED,
    },
    formatters: {
      log: (obj) => scrub(obj, 0, clean) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const cleaned = args.map((a) => (typeof a === 'string' ? clean(a) : a)) as Parameters<typeof method>;
        method.apply(this, cleaned);
      },
    },
  };
  const dest = opts.destination;
  if (opts.format === 'pretty') {
    const out = dest ?? process.stdout;
    const colorize = (out as { isTTY?: boolean }).isTTY === true;
    return pino(options, pretty({ destination: out, sync: true, colorize, ignore: 'pid,hostname,name' }));
  }
  if (dest === undefined) return pino(options);
  return pino(options, dest);
}

/**
 * Fastify's `childLoggerFactory` (createServer sets it): each request's logger
 * (`req.log`, bound to its `reqId`), but while the logger is silent the logger itself,
 * since nothing given to it is written: a pino child, whose bindings go through the
 * redaction above, cost ~2 % of an HTTP task update. A route with its own log level or
 * serializers still gets its child; an empty `opts` (Fastify passes `{}`) takes pino's
 * faster path for a child without options, which builds the same logger.
 */
export function requestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
): FastifyBaseLogger {
  if (opts.level !== undefined || opts.serializers !== undefined) return logger.child(bindings, opts);
  return logger.level === 'silent' ? logger : logger.child(bindings);
}
