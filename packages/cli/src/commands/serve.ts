import type { ParseArgsOptionsConfig } from 'node:util';
import {
  ConfigError,
  OPTIONS,
  createServer,
  installSignalHandlers,
  resolveConfigDetailed,
  signDevToken,
} from '@taskwire/server';
import { parseCommandArgs } from '../args.js';
import { CommandError, UsageError } from '../errors.js';
import type { Command, Io } from '../io.js';

/** The flags are the server's OPTIONS table, so names are the same everywhere (flags win over env). */
const FLAGS: ParseArgsOptionsConfig = { help: { type: 'boolean', short: 'h' } };
for (const o of OPTIONS) FLAGS[o.flag.slice(2)] = { type: o.type.kind === 'boolean' ? 'boolean' : 'string' };

function help(): string {
  const rows = OPTIONS.map((o) => {
    const left = `${o.flag}${o.type.kind === 'boolean' ? '' : ' <value>'}`;
    const def = o.default === null ? '' : ` (default ${String(o.default)})`;
    return `  ${left.padEnd(34)}${o.description}${def} [${o.env}]`;
  });
  return `Usage: taskwire serve [options]

Run the taskwire server. Every option can also be set by the environment variable
in brackets; a flag wins over the environment. Outside --dev, --jwt-secret (or
--jwt-public-key) and --api-key are required.

  taskwire serve --dev                       secrets generated and printed, with an admin token
  taskwire serve --port 9000 --jwt-secret "$(openssl rand -base64 32)" --api-key "$(openssl rand -base64 32)"

Options:
${rows.join('\n')}
  -h, --help                        this help`;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the server (--dev: generated secrets, printed with an admin token)',
  help,
  async run(args: string[], io: Io): Promise<number> {
    const { values, positionals } = parseCommandArgs(args, FLAGS, true);
    if (values.help === true) {
      io.out(help());
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const flags: Record<string, string | boolean> = {};
    for (const [name, value] of Object.entries(values))
      if (typeof value === 'string' || typeof value === 'boolean') flags[name] = value;
    const { config, generated } = configError(() => resolveConfigDetailed({ flags, env: io.env }));
    const server = await configError(() => createServer(config));
    let url: string;
    try {
      ({ url } = await server.listen());
    } catch (err) {
      await server.close();
      throw new CommandError(
        `taskwire serve: cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    installSignalHandlers(server);
    const wsUrl = `${url.replace(/^http/, 'ws')}/api/v1/ws`;
    const lines = [`taskwire listening on ${url} (engine ${config.engine}${config.dev ? ', dev mode' : ''})`];
    lines.push(
      `  HTTP:        ${url}   (API under /api/v1)`,
      `  WebSocket:   ${wsUrl}`,
      `  Health:      ${url}/healthz`,
    );
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
    io.out(lines.join('\n'));
    return 0;
  },
};

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
