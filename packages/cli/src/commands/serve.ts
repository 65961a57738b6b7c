import { Writable } from 'node:stream';
import type { ParseArgsOptionsConfig } from 'node:util';
import { dashboardDir } from '@taskwire/dashboard/dir';
import { createRedisEngine } from '@taskwire/engine-redis';
import {
  ConfigError,
  OPTIONS,
  createServer,
  logFormatFor,
  installSignalHandlers,
  redactUrl,
  redisClusterUrls,
  resolveConfigDetailed,
  signDevToken,
  shownDefault,
  type CreateServerOptions,
  type ServerConfig,
} from '@taskwire/server';
import { parseCommandArgs } from '../args.js';
import { DEMO_OWNERS, startDemo, type Demo } from '../demo/index.js';
import { CommandError, UsageError } from '../errors.js';
import type { Command, Io } from '../io.js';

/** The flags are the server's OPTIONS table, so names are the same everywhere (flags win over env). */
const FLAGS: ParseArgsOptionsConfig = { help: { type: 'boolean', short: 'h' } };
for (const o of OPTIONS)
  FLAGS[o.flag.slice(2)] = {
    type: o.type.kind === 'boolean' ? 'boolean' : 'string',
    ...(o.repeatable ? { multiple: true } : {}),
  };
/** CLI-only flags, not server options (not in OPTIONS, not passed to the config). */
const CLI_FLAGS: ParseArgsOptionsConfig = { demo: { type: 'boolean' } };

function help(): string {
  const rows = OPTIONS.map((o) => {
    const left = `${o.flag}${o.type.kind === 'boolean' ? '' : ' <value>'}`;
    const def = o.default === null ? '' : ` (default ${shownDefault(o)})`;
    return `  ${left.padEnd(34)}${o.description}${def} [${o.env}]`;
  });
  return `Usage: taskwire serve [options]

Run the taskwire server. Every option can also be set by the environment variable
in brackets; a flag wins over the environment. Outside --dev, --jwt-secret (or
--jwt-public-key) and --api-key are required.

  taskwire serve --dev                       secrets generated and printed, with an admin token
  taskwire serve --dev --demo                the same, with simulated workers keeping tasks moving
  taskwire serve --port 9000 --jwt-secret "$(openssl rand -base64 32)" --api-key "$(openssl rand -base64 32)"

Options:
${rows.join('\n')}
  --demo                            run simulated workers (alice, bob, carol; room:demo) through the
                                    HTTP API with the API key; needs --dev or --api-key
  -h, --help                        this help`;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the server (--dev: generated secrets, printed with an admin token)',
  help,
  async run(args: string[], io: Io): Promise<number> {
    const { values, positionals } = parseCommandArgs(args, { ...FLAGS, ...CLI_FLAGS }, true);
    if (values.help === true) {
      io.out(help());
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const flags: Record<string, string | boolean | string[]> = {};
    for (const [name, value] of Object.entries(values)) {
      if (name in CLI_FLAGS) continue;
      if (typeof value === 'string' || typeof value === 'boolean') flags[name] = value;
      else if (Array.isArray(value)) flags[name] = value.filter((v): v is string => typeof v === 'string');
    }
    const { config, generated } = configError(() => resolveConfigDetailed({ flags, env: io.env }));
    const demo = values.demo === true ? demoSettings(config, io) : null;
    // Log lines wait until the banner is out, so a terminal shows the banner first; --dev on a terminal: pretty lines.
    const logs = new HeldStream(process.stdout);
    const logFormat = logFormatFor(config, process.stdout);
    const server = await startError(config, () =>
      createServer({ ...withEngine(config), logFormat, logDestination: logs, dashboardDir }),
    ).catch((err: unknown) => {
      logs.release();
      throw err;
    });
    let url: string;
    try {
      ({ url } = await server.listen());
    } catch (err) {
      logs.release();
      await server.close();
      throw new CommandError(
        `taskwire serve: cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    let running: Demo | null = null;
    if (demo)
      running = startDemo({ url: localUrl(url), apiKey: demo.apiKey, speed: demo.speed, logger: server.ctx.logger });
    // The demo stops first: its requests (an approval's long-poll) must not hold up the server's close.
    installSignalHandlers({
      ...server,
      close: async () => {
        await running?.stop();
        await server.close();
      },
    });
    const wsUrl = `${url.replace(/^http/, 'ws')}/api/v1/ws`;
    const where =
      config.engine === 'sqlite' ? ` at ${config.db}` : config.engine === 'redis' ? ` at ${redisTarget(config)}` : '';
    const lines = [`taskwire listening on ${url} (engine ${config.engine}${where}${config.dev ? ', dev mode' : ''})`];
    lines.push(
      `  HTTP:        ${url}   (API under /api/v1)`,
      `  WebSocket:   ${wsUrl}`,
      `  Health:      ${url}/healthz`,
    );
    if (config.dev) lines.push(`  Dashboard:   ${url}/   (signs in with a dev token on this machine)`);
    if (config.dev) {
      const token =
        config.jwtAlgorithm === 'HS256' ? await signDevToken(config, { sub: 'admin', admin: true, ttl: 3600 }) : null;
      if (generated.apiKey) lines.push(`  API key:     ${generated.apiKey}   (generated for this run)`);
      if (generated.jwtSecret) lines.push(`  JWT secret:  ${generated.jwtSecret}   (generated for this run)`);
      if (token) lines.push(`  Admin token: ${token}   (expires in 1 h)`);
      lines.push(
        '',
        'Try it (in another shell):',
        `  export TASKWIRE_URL=${url} TASKWIRE_API_KEY=${config.apiKey ?? ''} TASKWIRE_JWT_SECRET=${config.jwtSecret ?? ''}`,
      );
      lines.push('  npx taskwire task create --owner alice --title demo', '  python3 examples/python-worker/worker.py');
      lines.push('Dev mode: never use it in production (secrets are printed, and regenerated on every start).');
    }
    if (demo) {
      lines.push(
        '',
        `Demo: simulated workers run tasks for ${DEMO_OWNERS.join(', ')} (one waits for approval, one stalls, a batch of 12 pages, release notes streamed as they are written).`,
        `  Watch them: npx taskwire watch user:${DEMO_OWNERS[0] ?? 'alice'}   ${config.dev ? '(with the export line above)' : '(with TASKWIRE_URL, and TASKWIRE_TOKEN or TASKWIRE_JWT_SECRET)'}`,
      );
    }
    io.out(lines.join('\n'));
    logs.release();
    return 0;
  },
};

/** Holds what is written until release(), then passes everything on (the log lines before the banner). */
class HeldStream extends Writable {
  private held: Buffer[] | null = [];

  constructor(private readonly out: NodeJS.WritableStream) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.held) this.held.push(chunk);
    else this.out.write(chunk);
    done();
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const chunk of held) this.out.write(chunk);
  }
}

/** `--demo` needs the API key (generated in --dev); TASKWIRE_DEMO_SPEED speeds it up (tests). */
function demoSettings(config: ServerConfig, io: Io): { apiKey: string; speed: number } {
  if (config.apiKey === null)
    throw new UsageError(
      '--demo needs --dev or an API key (--api-key or TASKWIRE_API_KEY): its workers use the HTTP API',
    );
  const raw = io.env.TASKWIRE_DEMO_SPEED;
  const speed = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!(Number.isFinite(speed) && speed > 0 && speed <= 1000))
    throw new UsageError(`TASKWIRE_DEMO_SPEED must be a number from 0 to 1000, got ${JSON.stringify(raw)}`);
  return { apiKey: config.apiKey, speed };
}

/** The listening URL as the demo calls it: a wildcard bind address is reached on loopback. */
function localUrl(url: string): string {
  return url.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:');
}

/** A ConfigError (a bad option, an engine not available) is a usage error: one line, exit 2. */
function configError<T>(fn: () => T): T {
  try {
    const out = fn();
    if (out instanceof Promise) {
      return out.catch((err: unknown) => {
        throw err instanceof ConfigError ? new UsageError(err.message) : err;
      }) as T;
    }
    return out;
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** The Redis engine lives in its own package: the CLI builds it and hands it to createServer. */
function withEngine(config: ServerConfig): CreateServerOptions {
  if (config.engine !== 'redis') return config;
  return {
    ...config,
    engineFactory: (cfg, logger) =>
      createRedisEngine({
        ...(cfg.redisUrl !== null ? { url: cfg.redisUrl } : {}),
        ...(cfg.redisCluster !== null ? { cluster: redisClusterUrls(cfg.redisCluster) } : {}),
        prefix: cfg.redisPrefix,
        limits: { historySize: cfg.historySize, historyTtlMs: cfg.historyTtlMs },
        logger,
      }),
  };
}

/** Where the Redis engine connects, without a password. */
function redisTarget(config: ServerConfig): string {
  const urls = config.redisCluster !== null ? redisClusterUrls(config.redisCluster) : [config.redisUrl ?? ''];
  return urls.map((u) => redactUrl(u.replace(/\/\/[^@/]*@/, '//[redacted]@'))).join(',');
}

/** A bad option is a usage error (exit 2); an engine that cannot start is a one-line failure (exit 1). */
async function startError<T>(config: ServerConfig, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    const message = err instanceof Error ? err.message : String(err);
    throw new CommandError(`taskwire serve: the ${config.engine} engine could not start: ${message}`);
  }
}
