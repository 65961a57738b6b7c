import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, OPTIONS, resolveConfig, resolveConfigDetailed, signDevToken } from '../src/config/resolve.js';
import { createServer } from '../src/app/create-server.js';
import type { ServerConfig } from '../src/config/types.js';

const SECRET = 'x'.repeat(40);
const base = { overrides: { jwtSecret: SECRET, apiKey: 'key-123' } };

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has one OPTIONS row per ServerConfig field, with unique flags and env names', () => {
    const cfg = resolveConfig(base);
    expect(OPTIONS.map((o) => o.key).sort()).toEqual(Object.keys(cfg).sort());
    expect(new Set(OPTIONS.map((o) => o.flag)).size).toBe(OPTIONS.length);
    expect(new Set(OPTIONS.map((o) => o.env)).size).toBe(OPTIONS.length);
    for (const o of OPTIONS) expect(o.description.length).toBeGreaterThan(5);
  });

  it('applies the documented defaults', () => {
    const c = resolveConfig(base);
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      engine: 'sqlite',
      heartbeatMs: 25_000,
      logLevel: 'info',
      dev: false,
      jwtAlgorithm: 'HS256',
      maxFrameBytes: 65_536,
      maxSubscriptionsPerConnection: 100,
      maxConnections: 10_000,
      maxConnectionsPerUser: 100,
      authTimeoutMs: 5000,
      sendBufferBytes: 1_048_576,
      historySize: 1000,
      historyTtlMs: 86_400_000,
      recoveryLimit: 500,
      clockLeewaySec: 5,
      stallSweepMs: 1000,
      shutdownTimeoutMs: 10_000,
      maxPendingFrames: 100,
    } satisfies Partial<ServerConfig>);
  });

  it('takes overrides over flags over environment over defaults', () => {
    const env = {
      TASKWIRE_PORT: '1001',
      TASKWIRE_HOST: '0.0.0.0',
      TASKWIRE_HEARTBEAT_MS: '3000',
      TASKWIRE_JWT_SECRET: SECRET,
      TASKWIRE_API_KEY: 'k',
    };
    const c = resolveConfig({ env, flags: { port: '1002', '--heartbeat-ms': '4000' }, overrides: { port: 1003 } });
    expect(c.port).toBe(1003);
    expect(c.heartbeatMs).toBe(4000);
    expect(c.host).toBe('0.0.0.0');
    expect(c.jwtSecret).toBe(SECRET);
    expect(resolveConfig({ env, flags: { 'heartbeat-ms': '5000', dev: true } })).toMatchObject({
      heartbeatMs: 5000,
      dev: true,
      port: 1001,
    });
  });

  it('stops on each invalid value with one line naming the option', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { TASKWIRE_HEARTBEAT_MS: 'abc' },
        /^--heartbeat-ms \(TASKWIRE_HEARTBEAT_MS\) must be an integer from 1000 to 600000, got "abc"$/,
      ],
      [{ TASKWIRE_PORT: '70000' }, /^--port \(TASKWIRE_PORT\) must be an integer from 0 to 65535, got "70000"$/],
      [{ TASKWIRE_PORT: '80.5' }, /^--port \(TASKWIRE_PORT\)/],
      [
        { TASKWIRE_ENGINE: 'mongo' },
        /^--engine \(TASKWIRE_ENGINE\) must be one of memory, sqlite, redis, got "mongo"$/,
      ],
      [{ TASKWIRE_LOG_LEVEL: 'loud' }, /^--log-level \(TASKWIRE_LOG_LEVEL\) must be one of/],
      [{ TASKWIRE_DEV: 'maybe' }, /^--dev \(TASKWIRE_DEV\) must be true or false/],
      [
        { TASKWIRE_JWT_ALGORITHM: 'none' },
        /^--jwt-algorithm \(TASKWIRE_JWT_ALGORITHM\) must be one of HS256, RS256, ES256, got "none"$/,
      ],
      [{ TASKWIRE_MAX_FRAME_BYTES: '-1' }, /^--max-frame-bytes \(TASKWIRE_MAX_FRAME_BYTES\)/],
      [{ TASKWIRE_REDIS_URL: 'http://x' }, /^--redis \(TASKWIRE_REDIS_URL\) must be a redis:\/\/ or rediss:\/\/ URL$/],
      [
        { TASKWIRE_JWT_PUBLIC_KEY: '/no/such/file.pem' },
        /^--jwt-public-key \(TASKWIRE_JWT_PUBLIC_KEY\) is neither PEM text nor a readable file/,
      ],
    ];
    for (const [env, re] of cases) {
      const msg = configError(() =>
        resolveConfig({ env: { TASKWIRE_JWT_SECRET: SECRET, TASKWIRE_API_KEY: 'k', ...env } }),
      );
      expect(msg).toMatch(re);
      expect(msg).not.toContain('\n');
    }
    for (const o of OPTIONS.filter((x) => x.type.kind === 'integer')) {
      const msg = configError(() => resolveConfig({ ...base, flags: { [o.flag]: 'abc' } }));
      expect(msg).toBe(
        `${o.flag} (${o.env}) must be an integer from ${(o.type as { min: number }).min} to ${(o.type as { max: number }).max}, got "abc"`,
      );
    }
    expect(configError(() => resolveConfig({ overrides: { ...base.overrides, heartbeatMs: 1.5 } }))).toMatch(
      /^--heartbeat-ms/,
    );
  });

  it('refuses to start without secrets outside dev, saying how to set them', () => {
    expect(configError(() => resolveConfig({ overrides: { apiKey: 'k' } }))).toMatch(
      /--jwt-secret \(TASKWIRE_JWT_SECRET\) is required: set --jwt-secret or TASKWIRE_JWT_SECRET.*--dev/,
    );
    expect(configError(() => resolveConfig({ overrides: { jwtSecret: SECRET } }))).toMatch(
      /--api-key \(TASKWIRE_API_KEY\) is required: set --api-key or TASKWIRE_API_KEY/,
    );
    expect(configError(() => resolveConfig({ overrides: { jwtSecret: 'short', apiKey: 'k' } }))).toMatch(
      /--jwt-secret \(TASKWIRE_JWT_SECRET\) must be at least 32 bytes for HS256, got 5/,
    );
    expect(configError(() => resolveConfig({ overrides: { jwtAlgorithm: 'RS256', apiKey: 'k' } }))).toMatch(
      /--jwt-public-key .* is required for RS256/,
    );
  });

  it('generates missing secrets in dev mode and reports them', () => {
    const { config, generated } = resolveConfigDetailed({ flags: { dev: true } });
    expect(config.jwtSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(config.apiKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generated).toEqual({ jwtSecret: config.jwtSecret, apiKey: config.apiKey });
    const other = resolveConfigDetailed({ flags: { dev: true } });
    expect(other.config.jwtSecret).not.toBe(config.jwtSecret);
    expect(resolveConfigDetailed({ flags: { dev: true }, overrides: { apiKey: 'mine' } }).generated).toEqual({
      jwtSecret: expect.any(String),
    });
  });

  it('reads a public key from a PEM file and infers RS256 or ES256 from it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-config-'));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    writeFileSync(join(dir, 'rsa.pem'), rsa);
    const fromFile = resolveConfig({ env: { TASKWIRE_JWT_PUBLIC_KEY: join(dir, 'rsa.pem'), TASKWIRE_API_KEY: 'k' } });
    expect(fromFile.jwtAlgorithm).toBe('RS256');
    expect(fromFile.jwtPublicKey).toBe(rsa);
    expect(resolveConfig({ overrides: { jwtPublicKey: ec, apiKey: 'k' } }).jwtAlgorithm).toBe('ES256');
    expect(
      configError(() => resolveConfig({ overrides: { jwtPublicKey: ec, jwtAlgorithm: 'RS256', apiKey: 'k' } })),
    ).toMatch(/--jwt-algorithm \(TASKWIRE_JWT_ALGORITHM\) is RS256 but --jwt-public-key holds a key for ES256/);
  });

  it('defaults to the sqlite engine; redis without an engineFactory fails clearly at start', async () => {
    expect(resolveConfig(base).engine).toBe('sqlite');
    expect(resolveConfig({ ...base, flags: { engine: 'memory' } }).engine).toBe('memory');
    await expect(createServer({ ...base.overrides, engine: 'redis', logLevel: 'silent' })).rejects.toThrow(
      /--engine redis needs --redis \(TASKWIRE_REDIS_URL\) \(one Redis\) or --redis-cluster/,
    );
    const redisUrl = 'redis://127.0.0.1:1';
    await expect(createServer({ ...base.overrides, engine: 'redis', redisUrl, logLevel: 'silent' })).rejects.toThrow(
      /--engine \(TASKWIRE_ENGINE\) redis needs @taskwire\/engine-redis/,
    );
    await expect(createServer({ ...base.overrides, engine: 'redis', redisUrl, logLevel: 'silent' })).rejects.toThrow(
      ConfigError,
    );
    expect(() =>
      resolveConfig({ ...base, flags: { engine: 'redis', 'redis-cluster': 'redis://a:1, http://b' } }),
    ).toThrow(/--redis-cluster \(TASKWIRE_REDIS_CLUSTER\) must be comma-separated redis:\/\/ or rediss:\/\/ URLs/);
  });

  it('signDevToken signs HS256 only', async () => {
    const config = resolveConfig(base);
    const token = await signDevToken(config, { sub: 'alice', admin: true, ttl: 60 });
    expect(token.split('.')).toHaveLength(3);
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { alg: string };
    expect(header.alg).toBe('HS256');
    await expect(signDevToken({ jwtSecret: null, jwtAlgorithm: 'RS256' }, { sub: 'a' })).rejects.toThrow(ConfigError);
  });
});
