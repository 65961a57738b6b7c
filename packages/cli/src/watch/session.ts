/**
 * One `taskwire watch` run: the client, the renderer, and how it ends. `finish()`
 * is the one exit: it stops the renderer, prints the reason, releases every handle,
 * disconnects and clears every timer and signal handler, then resolves `done`.
 * Reconnects are left to the SDK (silent); a refused token ends the run.
 */
import { createClient, type TaskwireClient } from '@taskwire/client';
import type { Credentials, Endpoints } from './connect.js';
import type { Renderer } from './render.js';

/** Exit statuses: 0 success, 1 a task failed (or the server is unreachable), 2 usage, 3 not found / not permitted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, sigint: 130, sigterm: 143 } as const;

export interface SessionOptions {
  endpoints: Endpoints;
  credentials: Credentials;
  renderer: Renderer;
  /** Where the reason for ending goes (stderr). */
  err: (text: string) => void;
  /** Give up when the first connection is not up in this time. @default 15000 */
  connectTimeoutMs?: number;
  /** Handle SIGINT/SIGTERM (Ctrl-C): stop cleanly with 130/143. @default true */
  signals?: boolean;
}

export class Session {
  readonly client: TaskwireClient;
  readonly renderer: Renderer;
  readonly endpoints: Endpoints;
  readonly credentials: Credentials;
  readonly done: Promise<number>;
  #resolve: (code: number) => void = () => undefined;
  #ended = false;
  readonly #cleanups: Array<() => void> = [];
  readonly #err: (text: string) => void;

  constructor(opts: SessionOptions) {
    this.renderer = opts.renderer;
    this.endpoints = opts.endpoints;
    this.credentials = opts.credentials;
    this.#err = opts.err;
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    this.client = createClient({
      url: opts.endpoints.ws,
      ...(opts.credentials.token !== undefined ? { token: opts.credentials.token } : {}),
      ...(opts.credentials.getToken !== undefined ? { getToken: opts.credentials.getToken } : {}),
    });
    const timeoutMs = opts.connectTimeoutMs ?? 15_000;
    const timer = setTimeout(() => {
      if (this.client.state !== 'connected')
        this.finish(
          EXIT.failed,
          `error unavailable: cannot connect to ${opts.endpoints.ws} within ${timeoutMs / 1000} s`,
        );
    }, timeoutMs);
    this.onEnd(() => clearTimeout(timer));
    this.onEnd(
      this.client.on('state', ({ newState, code, reason }) => {
        if (newState === 'connected') clearTimeout(timer);
        if (newState === 'unauthorized')
          this.finish(
            EXIT.notFound,
            `unauthorized: ${reason || 'the server refused the token'} (${opts.credentials.source})`,
          );
        if (newState === 'closed')
          this.finish(
            code === 4503 ? EXIT.notFound : EXIT.failed,
            `the server closed the connection: ${code} ${reason}`.trim(),
          );
      }),
    );
    if (opts.signals ?? true) {
      const onInt = (): void => this.finish(EXIT.sigint);
      const onTerm = (): void => this.finish(EXIT.sigterm);
      process.once('SIGINT', onInt);
      process.once('SIGTERM', onTerm);
      this.onEnd(() => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      });
    }
  }

  /** Run `fn` when the session ends (release a handle, clear a timer). */
  onEnd(fn: () => void): void {
    this.#cleanups.push(fn);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** End the run with `code`; `message` goes to stderr after the final render. Only the first call counts. */
  finish(code: number, message?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.renderer.stop();
    if (message) this.#err(message);
    for (const fn of this.#cleanups.splice(0)) fn();
    this.client.disconnect();
    this.#resolve(code);
  }

  /** GET an API path with the current token; throws ApiFailure on an error answer. */
  async get<T>(path: string): Promise<T> {
    const token = this.credentials.token ?? (await this.credentials.getToken?.());
    let res: Response;
    try {
      res = await fetch(`${this.endpoints.api}${path}`, { headers: { authorization: `Bearer ${token ?? ''}` } });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new ApiFailure('unavailable', `cannot reach ${this.endpoints.api} (${cause})`, 0);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.ok) return body as T;
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    throw new ApiFailure(
      typeof error?.code === 'string' ? error.code : `http_${res.status}`,
      typeof error?.message === 'string' ? error.message : text.slice(0, 200),
      res.status,
    );
  }
}

export class ApiFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** The exit status for a refusal: not found / not permitted → 3, anything else → 1. */
export function refusalCode(code: string): number {
  return code === 'not_found' || code === 'forbidden' || code === 'unauthorized' ? EXIT.notFound : EXIT.failed;
}
