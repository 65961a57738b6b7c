/**
 * Server configuration: one table (`OPTIONS`) of every option with its flag,
 * environment variable, type, default and description, and `resolveConfig()`,
 * which merges overrides > flags > environment > defaults and validates every
 * value. A bad value throws `ConfigError` with one line naming the option.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import type { ServerConfig } from './types.js';
import { formatDuration, parseDuration } from './durations.js';
import { OPTIONS, type OptionSpec } from './options.js';
import { WebhookSettingsError, webhookSettings } from './webhook-settings.js';

export type { ServerConfig };
export { OPTIONS, shownDefault, type OptionSpec } from './options.js';

/** A configuration problem: its message is one line naming the option and how to fix it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigInput {
  /** Parsed command-line flags, keyed by flag name (`heartbeat-ms` or `--heartbeat-ms`) or by config key. */
  flags?: Record<string, string | boolean | (string | boolean)[] | undefined>;
  env?: NodeJS.ProcessEnv;
  overrides?: Partial<ServerConfig>;
}

export interface ResolvedConfig {
  config: ServerConfig;
  /** Secrets generated because `dev` was on and they were missing: print them. */
  generated: Partial<Pick<ServerConfig, 'jwtSecret' | 'apiKey'>>;
}

/** Resolve and validate the configuration. Throws ConfigError. */
export function resolveConfig(input: ConfigInput = {}): ServerConfig {
  return resolveConfigDetailed(input).config;
}

/** As resolveConfig, and also says which secrets were generated in dev mode. */
export function resolveConfigDetailed(input: ConfigInput = {}): ResolvedConfig {
  const flags = normalizeFlags(input.flags ?? {});
  const env = input.env ?? {};
  const overrides = input.overrides ?? {};
  const out: Record<string, unknown> = {};
  const given = new Set<keyof ServerConfig>();
  for (const spec of OPTIONS) {
    let raw: unknown;
    let isSet = true;
    const override: unknown = overrides[spec.key];
    if (override !== undefined) raw = override;
    else if (flags.has(spec.key)) raw = flags.get(spec.key);
    else if (env[spec.env] !== undefined && env[spec.env] !== '') raw = env[spec.env];
    else isSet = false;
    if (isSet) given.add(spec.key);
    out[spec.key] = isSet ? parseValue(spec, raw) : spec.default;
  }
  const config = out as unknown as ServerConfig;
  const generated = checkSecrets(config, given.has('jwtAlgorithm'));
  return { config, generated };
}

function normalizeFlags(flags: NonNullable<ConfigInput['flags']>): Map<keyof ServerConfig, unknown> {
  const byName = new Map<string, keyof ServerConfig>();
  for (const spec of OPTIONS) {
    byName.set(spec.flag.slice(2), spec.key);
    byName.set(spec.key, spec.key);
  }
  const repeatable = new Set(OPTIONS.filter((o) => o.repeatable).map((o) => o.key));
  const out = new Map<keyof ServerConfig, unknown>();
  for (const [name, given] of Object.entries(flags)) {
    const key = byName.get(name.replace(/^--?/, ''));
    if (!key) continue;
    // A repeated flag: the last one wins, unless the option takes a list.
    const value = !Array.isArray(given)
      ? given
      : repeatable.has(key)
        ? given.map(String).join(',')
        : given[given.length - 1];
    if (value !== undefined) out.set(key, value);
  }
  return out;
}

const label = (spec: OptionSpec): string => `${spec.flag} (${spec.env})`;

function show(raw: unknown): string {
  const s = typeof raw === 'string' ? raw : String(JSON.stringify(raw));
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

function parseValue(spec: OptionSpec, raw: unknown): unknown {
  const t = spec.type;
  switch (t.kind) {
    case 'integer': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < t.min || n > t.max) {
        throw new ConfigError(`${label(spec)} must be an integer from ${t.min} to ${t.max}, got ${show(raw)}`);
      }
      return n;
    }
    case 'duration': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseDuration(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < t.min || n > t.max) {
        throw new ConfigError(
          `${label(spec)} must be a duration from ${formatDuration(t.min)} to ${formatDuration(t.max)} (500ms, 30s, 5m, 2h, 7d), got ${show(raw)}`,
        );
      }
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(1|true|yes|on)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${label(spec)} must be true or false, got ${show(raw)}`);
    }
    case 'enum': {
      if (typeof raw === 'string' && t.values.includes(raw)) return raw;
      throw new ConfigError(`${label(spec)} must be one of ${t.values.join(', ')}, got ${show(raw)}`);
    }
    case 'string':
    case 'secret': {
      if (raw === null && t.kind === 'secret') return null;
      if (typeof raw !== 'string' || raw.trim() === '') {
        throw new ConfigError(
          `${label(spec)} must be a non-empty string${t.kind === 'secret' ? '' : `, got ${show(raw)}`}`,
        );
      }
      return raw;
    }
  }
}

const specOf = (key: keyof ServerConfig): OptionSpec => OPTIONS.find((o) => o.key === key) as OptionSpec;

/**
 * Cross-field checks: the JWT key material matches the algorithm, secrets exist
 * outside dev (generated in dev), the HS256 secret is long enough.
 */
function checkSecrets(config: ServerConfig, algorithmGiven: boolean): ResolvedConfig['generated'] {
  const generated: ResolvedConfig['generated'] = {};
  const redisUrlRe = /^rediss?:\/\/\S+$/;
  if (config.redisUrl !== null && !redisUrlRe.test(config.redisUrl)) {
    throw new ConfigError(`${label(specOf('redisUrl'))} must be a redis:// or rediss:// URL`);
  }
  if (config.redisCluster !== null && !redisClusterUrls(config.redisCluster).every((u) => redisUrlRe.test(u))) {
    throw new ConfigError(`${label(specOf('redisCluster'))} must be comma-separated redis:// or rediss:// URLs`);
  }
  if (config.engine === 'redis' && config.redisUrl === null && config.redisCluster === null) {
    throw new ConfigError(
      `--engine redis needs ${label(specOf('redisUrl'))} (one Redis) or ${label(specOf('redisCluster'))} (a cluster)`,
    );
  }
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(config.redisPrefix)) {
    throw new ConfigError(`${label(specOf('redisPrefix'))} must be 1-32 characters of [A-Za-z0-9_.-]`);
  }
  if (config.jwtPublicKey !== null) {
    config.jwtPublicKey = loadPem(config.jwtPublicKey);
    const inferred = inferAlgorithm(config.jwtPublicKey);
    if (!algorithmGiven) config.jwtAlgorithm = inferred;
    else if (config.jwtAlgorithm !== inferred) {
      throw new ConfigError(
        `${label(specOf('jwtAlgorithm'))} is ${config.jwtAlgorithm} but --jwt-public-key holds a key for ${inferred}`,
      );
    }
  }
  if (config.jwtAlgorithm === 'HS256') {
    if (config.jwtSecret === null) {
      if (!config.dev) {
        throw new ConfigError(
          `${label(specOf('jwtSecret'))} is required: set --jwt-secret or TASKWIRE_JWT_SECRET (32+ random bytes, e.g. \`openssl rand -base64 32\`), or --jwt-public-key for RS256/ES256, or run with --dev`,
        );
      }
      config.jwtSecret = generated.jwtSecret = randomBytes(32).toString('base64url');
    } else if (!config.dev && Buffer.byteLength(config.jwtSecret) < 32) {
      throw new ConfigError(
        `${label(specOf('jwtSecret'))} must be at least 32 bytes for HS256, got ${Buffer.byteLength(config.jwtSecret)} (e.g. \`openssl rand -base64 32\`)`,
      );
    }
  } else if (config.jwtPublicKey === null) {
    throw new ConfigError(
      `${label(specOf('jwtPublicKey'))} is required for ${config.jwtAlgorithm}: set --jwt-public-key or TASKWIRE_JWT_PUBLIC_KEY to a PEM public key or a path to one`,
    );
  }
  checkWebhooks(config);
  if (config.apiKey === null) {
    if (!config.dev) {
      throw new ConfigError(
        `${label(specOf('apiKey'))} is required: set --api-key or TASKWIRE_API_KEY (a long random string, e.g. \`openssl rand -base64 32\`), or run with --dev`,
      );
    }
    config.apiKey = generated.apiKey = randomBytes(32).toString('base64url');
  }
  return generated;
}

/** The webhook options, checked together (their parsed form is webhookSettings()). */
function checkWebhooks(config: ServerConfig): void {
  try {
    webhookSettings(config);
  } catch (err) {
    if (!(err instanceof WebhookSettingsError)) throw err;
    throw new ConfigError(`${label(specOf(err.key))} ${err.message}`);
  }
}

/** PEM text as is; anything else is a path to a PEM file. */
function loadPem(value: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch {
    throw new ConfigError(`${label(specOf('jwtPublicKey'))} is neither PEM text nor a readable file: ${show(value)}`);
  }
}

function inferAlgorithm(pem: string): 'RS256' | 'ES256' {
  let type: string | undefined;
  let curve: string | undefined;
  try {
    const key = createPublicKey(pem);
    type = key.asymmetricKeyType;
    curve = key.asymmetricKeyDetails?.namedCurve;
  } catch {
    throw new ConfigError(`${label(specOf('jwtPublicKey'))} is not a valid PEM public key`);
  }
  if (type === 'rsa') return 'RS256';
  if (type === 'ec' && (curve === 'prime256v1' || curve === 'P-256')) return 'ES256';
  throw new ConfigError(
    `${label(specOf('jwtPublicKey'))} must be an RSA or P-256 EC public key, got ${type ?? 'unknown'}${curve ? ` ${curve}` : ''}`,
  );
}

export interface DevTokenClaims {
  sub: string;
  admin?: boolean;
  channels?: string[];
  publish?: string[];
  /** Absolute expiry, seconds since the epoch. */
  exp?: number;
  /** Relative lifetime, e.g. 3600 (seconds) or '1h'. Ignored when `exp` is given. */
  ttl?: number | string;
}

/** Sign an HS256 client token with the configured secret (the CLI's `token` command, tests). */
export async function signDevToken(
  config: Pick<ServerConfig, 'jwtSecret' | 'jwtAlgorithm'>,
  claims: DevTokenClaims,
): Promise<string> {
  if (config.jwtAlgorithm !== 'HS256' || config.jwtSecret === null) {
    throw new ConfigError(
      'signDevToken needs --jwt-secret with --jwt-algorithm HS256; sign RS256/ES256 tokens with your private key',
    );
  }
  const payload: Record<string, unknown> = {};
  if (claims.admin !== undefined) payload.admin = claims.admin;
  if (claims.channels !== undefined) payload.channels = claims.channels;
  if (claims.publish !== undefined) payload.publish = claims.publish;
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt();
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  else if (claims.ttl !== undefined)
    jwt.setExpirationTime(typeof claims.ttl === 'number' ? Math.floor(Date.now() / 1000) + claims.ttl : claims.ttl);
  return jwt.sign(new TextEncoder().encode(config.jwtSecret));
}

/** The seed URLs of `--redis-cluster` (comma-separated, blanks ignored). */
export function redisClusterUrls(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
