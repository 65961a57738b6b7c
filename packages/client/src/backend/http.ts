/**
 * One HTTP call to the API with retries: on a network error or a 5xx, wait (full
 * jitter backoff) and try again, up to `retries` times; any 4xx is final. The
 * caller's headers (Idempotency-Key) are sent unchanged on every try, which is
 * what makes a retried create or publish safe.
 */
import { isErrorCode } from '@taskwire/protocol';
import { backoffDelay } from '../backoff.js';
import { TaskwireApiError } from './errors.js';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface HttpOptions {
  baseUrl: string;
  apiKey: string;
  fetch: FetchLike;
  /** Tries after the first. @default 4 */
  retries: number;
  /** Backoff between tries. @default 200 ms → 5 s */
  retryMinMs: number;
  retryMaxMs: number;
}

export interface CallOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export async function call<T>(
  opts: HttpOptions,
  method: string,
  path: string,
  body?: unknown,
  co: CallOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.apiKey}`, ...co.headers };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const init: RequestInit = { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) };
  if (co.signal) init.signal = co.signal;
  for (let attempt = 0; ; attempt++) {
    let failure: TaskwireApiError;
    try {
      const res = await opts.fetch(opts.baseUrl + path, init);
      const text = await res.text();
      const parsed: unknown = text === '' ? undefined : safeJson(text);
      if (res.ok) return parsed as T;
      failure = toApiError(res.status, parsed, text);
      if (res.status < 500) throw failure;
    } catch (err) {
      if (err instanceof TaskwireApiError && err.status > 0 && err.status < 500) throw err;
      if (co.signal?.aborted) throw co.signal.reason;
      failure =
        err instanceof TaskwireApiError
          ? err
          : new TaskwireApiError(
              'network',
              `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`,
              0,
              {
                cause: err,
              },
            );
    }
    if (attempt >= opts.retries) throw failure;
    await sleep(
      backoffDelay(attempt + 1, false, { minMs: opts.retryMinMs, maxMs: opts.retryMaxMs, longMinMs: opts.retryMinMs }),
      co.signal,
    );
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toApiError(status: number, body: unknown, text: string): TaskwireApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = isErrorCode(error?.code) ? error.code : status >= 500 ? 'internal' : 'bad_request';
  const message = typeof error?.message === 'string' ? error.message : text || `HTTP ${status}`;
  return new TaskwireApiError(code, message, status);
}
