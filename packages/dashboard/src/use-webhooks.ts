/**
 * The webhook outbox, read over HTTP: there is no live feed for it, so a list is read
 * again every few seconds while it is shown, and at once after an action.
 *
 * - `useWebhookList(status)`: the newest messages of one status. "Load more" asks for
 *   another page; every refresh reads from the top again, following `nextCursor`, as
 *   many as are shown, so a message that changed status leaves the list and a new one
 *   enters it at the top.
 * - `useFailedCount(enabled)`: the failed messages for the navigation's badge, one
 *   list call with a limit.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, type Api, type WebhookMessage, type WebhookStatus } from './api.js';
import { useDashboard } from './hooks.js';

const PAGE = 50;
/** The server's largest page (`limit` ≤ 500). */
const MAX_LIMIT = 500;
const POLL_MS = 3_000;
const BADGE_POLL_MS = 10_000;
const BADGE_LIMIT = 100;

export interface WebhookList {
  messages: readonly WebhookMessage[];
  /** The server has more beyond these. */
  more: boolean;
  /** Nothing read yet. */
  loading: boolean;
  error: ApiError | Error | null;
  loadMore: () => void;
  refresh: () => void;
}

/** The newest `want` messages of `status`, in pages of at most `pageMax` (bounded: want / pageMax calls). */
export async function readTop(
  api: Api,
  status: WebhookStatus,
  want: number,
  signal: AbortSignal,
  pageMax = MAX_LIMIT,
): Promise<{ messages: WebhookMessage[]; more: boolean }> {
  const messages: WebhookMessage[] = [];
  let cursor: string | null = null;
  do {
    const limit = Math.min(pageMax, want - messages.length);
    const page = await api.webhooks({ status, limit, ...(cursor ? { cursor } : {}) }, signal);
    messages.push(...page.messages);
    cursor = page.nextCursor;
  } while (cursor && messages.length < want && !signal.aborted);
  return { messages, more: cursor !== null };
}

/**
 * Runs `load` now, every `ms`, and whenever the returned trigger is called, never two at
 * once (a trigger during a run runs it once more after), until the effect ends.
 */
function usePolling(load: (signal: AbortSignal) => Promise<void>, ms: number, enabled = true): () => void {
  const trigger = useRef<() => void>(() => undefined);
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    let running = false;
    let again = false;
    const run = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          await load(abort.signal);
        } while (again && !abort.signal.aborted);
      } finally {
        running = false;
      }
    };
    trigger.current = () => void run();
    void run();
    const timer = setInterval(() => void run(), ms);
    return () => {
      abort.abort();
      clearInterval(timer);
      trigger.current = () => undefined;
    };
  }, [load, ms, enabled]);
  return useCallback(() => trigger.current(), []);
}

const asError = (err: unknown): ApiError | Error => (err instanceof Error ? err : new Error(String(err)));

export function useWebhookList(status: WebhookStatus): WebhookList {
  const { api } = useDashboard();
  const [want, setWant] = useState(PAGE);
  const [data, setData] = useState<{ messages: WebhookMessage[]; more: boolean } | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const load = useCallback(
    async (signal: AbortSignal) => {
      try {
        const top = await readTop(api, status, want, signal);
        if (signal.aborted) return;
        setData(top);
        setError(null);
      } catch (err) {
        if (!signal.aborted) setError(asError(err));
      }
    },
    [api, status, want],
  );
  const refresh = usePolling(load, POLL_MS);
  const loadMore = useCallback(() => setWant((w) => w + PAGE), []);
  return {
    messages: data?.messages ?? [],
    more: data?.more ?? false,
    loading: data === null && error === null,
    error,
    loadMore,
    refresh,
  };
}

export interface FailedCount {
  /** Null until known, or when this server keeps no outbox (or refuses the token). */
  count: number | null;
  more: boolean;
  refresh: () => void;
}

export function useFailedCount(enabled: boolean): FailedCount {
  const { api } = useDashboard();
  const [state, setState] = useState<{ count: number | null; more: boolean }>({ count: null, more: false });
  const [gone, setGone] = useState(false);
  const load = useCallback(
    async (signal: AbortSignal) => {
      try {
        const page = await api.webhooks({ status: 'failed', limit: BADGE_LIMIT }, signal);
        if (!signal.aborted) setState({ count: page.messages.length, more: page.nextCursor !== null });
      } catch (err) {
        if (signal.aborted) return;
        // No outbox (404) or not an admin after all (401/403): no badge, and no more asking.
        if (err instanceof ApiError && [401, 403, 404].includes(err.status)) setGone(true);
        setState({ count: null, more: false });
      }
    },
    [api],
  );
  const refresh = usePolling(load, BADGE_POLL_MS, enabled && !gone);
  return { ...state, refresh };
}
