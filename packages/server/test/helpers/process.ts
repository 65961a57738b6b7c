/**
 * Run the built `taskwire serve` (packages/cli/dist/bin.js: `npm run build` first)
 * as a child process, for tests that kill and restart a real server.
 *
 * - `freePort()`: a TCP port that was free a moment ago (bind port 0, read it, close).
 * - `startServe(args)`: spawn `taskwire serve <args>`, resolve once the banner
 *   printed its URL; stdout and stderr are always drained (a full pipe would block
 *   the server) and kept for failure messages.
 * - Every process started here is tracked; `killAll()` (call it in afterAll) sends
 *   SIGKILL to those still running and waits for them to exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const CLI_BIN = fileURLToPath(new URL('../../../cli/dist/bin.js', import.meta.url));

export interface ServeProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port>/api/v1/ws */
  wsUrl: string;
  /** Everything written so far (for failure messages). */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = addr !== null && typeof addr === 'object' ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** The environment without TASKWIRE_* variables, so only the flags configure the child. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TASKWIRE_')) env[k] = v;
  return env;
}

/** Spawn `taskwire serve <args>` and wait (bounded) for its banner. */
export async function startServe(args: string[], timeoutMs = 20_000): Promise<ServeProcess> {
  if (!existsSync(CLI_BIN)) throw new Error(`${CLI_BIN} is missing: run npm run build first`);
  const child = spawn(process.execPath, [CLI_BIN, 'serve', ...args], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const append = (b: Buffer): void => {
    // Keep the tail only: a long-running child must not grow the test's memory.
    out = (out + b.toString()).slice(-64 * 1024);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no banner within ${timeoutMs} ms; output: ${out}`)), timeoutMs);
    const onData = (): void => {
      const m = /taskwire listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) finish(null, m[1]);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      finish(new Error(`serve exited (${String(code ?? signal)}) before listening; output: ${out}`));
    const onError = (err: Error): void => finish(err);
    function finish(err: Error | null, value?: string): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      if (err || value === undefined) reject(err ?? new Error('no URL'));
      else resolve(value);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
  return {
    child,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/api/v1/ws`,
    output: () => out,
    exited,
  };
}

/** Resolves with the exit status, or rejects after `timeoutMs`. */
export async function exitWithin(
  p: ServeProcess,
  timeoutMs = 15_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILL every process started here that is still running, and wait for each to exit (bounded). */
export async function killAll(timeoutMs = 10_000): Promise<void> {
  const waits = [...running].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(resolve, timeoutMs);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}
