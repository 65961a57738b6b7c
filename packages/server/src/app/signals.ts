/**
 * SIGTERM / SIGINT → graceful close (every WebSocket gets 1012) → exit 0, within
 * the shutdown budget (10 s by default); a close that fails or overruns exits 1,
 * and a second signal exits at once.
 */
import type { TaskwireServer } from './server-types.js';

export interface SignalHandlerOptions {
  /** Default: process.exit. */
  exit?: (code: number) => void;
  /** Hard limit, ms (default: the server's shutdownTimeoutMs, at most 10 s). */
  timeoutMs?: number;
  signals?: NodeJS.Signals[];
}

/** Install the handlers; returns a function that removes them. */
export function installSignalHandlers(server: TaskwireServer, opts: SignalHandlerOptions = {}): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const timeoutMs = opts.timeoutMs ?? Math.min(server.ctx.config.shutdownTimeoutMs, 10_000);
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    const log = server.ctx.logger;
    if (shuttingDown) {
      log.warn({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    shuttingDown = true;
    log.info({ signal }, 'shutting down');
    const hard = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown took too long: exiting');
      exit(1);
    }, timeoutMs);
    hard.unref();
    server.close().then(
      () => {
        clearTimeout(hard);
        log.info('shut down cleanly');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(hard);
        log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
