/** Pure helpers for the Webhooks view: endpoints without secrets, attempts and due times in words. */
import type { WebhookAttempt, WebhookMessage, WebhookStatus } from './api.js';
import { formatDuration } from './format.js';

export const WEBHOOK_STATUSES: readonly WebhookStatus[] = ['failed', 'pending', 'delivered'];

export const WEBHOOK_STATUS_LABEL: Record<WebhookStatus, string> = {
  failed: 'Failed',
  pending: 'Pending',
  delivered: 'Delivered',
};

/**
 * An endpoint as shown: host and path only. The user info, query string and fragment
 * may hold secrets (`?token=…`), so they never reach the page's text or titles.
 */
export function redactEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    // Not a URL (the server checks them at start, so this is unexpected): cut at the first ? or #.
    const bare = endpoint.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^[^/@]*@/, '');
    return bare.split(/[?#]/, 1)[0] ?? '';
  }
}

/** `HTTP 500`, `HTTP 503: Retry-After 30 s`, `no answer: timeout after 10000 ms`. */
export function attemptText(attempt: WebhookAttempt): string {
  const head = attempt.status === null ? 'no answer' : `HTTP ${attempt.status}`;
  return attempt.error ? `${head}: ${attempt.error}` : head;
}

/** `not tried yet`, `1 attempt · HTTP 200`, `4 attempts · last HTTP 500`. */
export function attemptsSummary(message: WebhookMessage): string {
  const n = message.attempts.length;
  const last = message.attempts.at(-1);
  if (!last) return 'not tried yet';
  return `${n} attempt${n === 1 ? '' : 's'} · ${n === 1 ? '' : 'last '}${attemptText(last)}`;
}

/** When a pending message is due: `due now`, `in 4s`, `in 2m 05s`; null when it is not pending. */
export function nextText(message: WebhookMessage, now: number): string | null {
  if (message.status !== 'pending' || !message.nextAt) return null;
  const wait = Date.parse(message.nextAt) - now;
  return wait <= 500 ? 'due now' : `in ${formatDuration(wait)}`;
}

/** The navigation's failed count: `3`, `100+` when the page held more; null for none. */
export function countBadge(count: number, more: boolean): string | null {
  if (count === 0) return null;
  return more ? `${count}+` : `${count}`;
}
