/**
 * The HTTP calls the dashboard makes (docs/protocol.md §4), with the signed-in user's token.
 * The server is the page's own origin. Only under Vite's dev server,
 * `?server=http://host:port` points the page at another one: a built page never
 * sends its token anywhere but where it came from.
 */
import type { EventFrame, Task } from '@taskwire/client';

export interface Endpoints {
  /** http(s)://host/api/v1 */
  api: string;
  /** ws(s)://host/api/v1/ws */
  ws: string;
}

export function endpoints(location: Location, dev = import.meta.env.DEV): Endpoints {
  const override = dev ? new URLSearchParams(location.search).get('server') : null;
  const origin = override ?? location.origin;
  const api = `${origin.replace(/\/+$/, '')}/api/v1`;
  return { api, ws: `${api.replace(/^http/, 'ws')}/ws` };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Stats {
  connections: number;
  connectionsByTransport: { ws: number; sse: number; longpoll: number };
  subscriptions: number;
  channels: number;
  eventsIn: number;
  eventsOut: number;
  eventsInPerSecond: number;
  eventsOutPerSecond: number;
  slowConsumerCloses: number;
}

export interface History {
  channel: string;
  epoch: string;
  offset: number;
  recovered: boolean;
  events: EventFrame[];
}

export type WebhookStatus = 'pending' | 'failed' | 'delivered';

/** One attempt to deliver a webhook message: `status` is the HTTP status, null without an answer. */
export interface WebhookAttempt {
  at: string;
  status: number | null;
  error?: string;
}

/** A message of the webhook outbox (`GET /webhooks/messages`, protocol 1.1 §8). */
export interface WebhookMessage {
  id: string;
  type: string;
  taskId: string;
  endpoint: string;
  status: WebhookStatus;
  createdAt: string;
  nextAt: string | null;
  attempts: WebhookAttempt[];
}

export interface WebhookPage {
  messages: WebhookMessage[];
  nextCursor: string | null;
}

export interface Api {
  listTasks(query: {
    owner?: string;
    status?: string;
    parent?: string;
    limit?: number;
    cursor?: string;
  }): Promise<{ tasks: Task[]; nextCursor: string | null }>;
  /** A stream's whole text (`GET /tasks/:id/streams/:name`). */
  streamText(id: string, name: string): Promise<{ stream: string; text: string; chunks: number }>;
  history(channel: string, limit?: number): Promise<History>;
  decide(id: string, decision: 'approve' | 'reject', comment?: string): Promise<Task>;
  cancel(id: string): Promise<Task>;
  stats(signal?: AbortSignal): Promise<Stats>;
  /** The webhook outbox, newest first (admin). */
  webhooks(
    query: { status: WebhookStatus; limit?: number; cursor?: string },
    signal?: AbortSignal,
  ): Promise<WebhookPage>;
  /** Send a failed message again: it is pending, due now (409 unless it failed). */
  retryWebhook(id: string): Promise<WebhookMessage>;
}

/** `token` is read for every call, so a renewed token is used at once. */
export function createApi(base: string, token: () => string): Api {
  async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${token()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      signal: signal ?? null,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: reported below by status.
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(res.status, err?.code ?? 'http', err?.message ?? `HTTP ${res.status}`);
    }
    return parsed as T;
  }
  const q = (params: Record<string, string | number | undefined>): string => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v));
    const str = s.toString();
    return str ? `?${str}` : '';
  };
  return {
    listTasks: (query) => call('GET', `/tasks${q(query)}`),
    streamText: (id, name) => call('GET', `/tasks/${encodeURIComponent(id)}/streams/${encodeURIComponent(name)}`),
    history: (channel, limit = 100) => call('GET', `/channels/${encodeURIComponent(channel)}/history${q({ limit })}`),
    decide: (id, decision, comment) =>
      call('POST', `/tasks/${encodeURIComponent(id)}/decision`, comment ? { decision, comment } : { decision }),
    cancel: (id) => call('POST', `/tasks/${encodeURIComponent(id)}/cancel`),
    stats: (signal) => call('GET', '/stats', undefined, signal),
    webhooks: (query, signal) => call('GET', `/webhooks/messages${q(query)}`, undefined, signal),
    retryWebhook: (id) => call('POST', `/webhooks/messages/${encodeURIComponent(id)}/retry`),
  };
}
