/**
 * Hash routes, so the static files need no server fallback and a reload keeps the
 * view: `#/tasks`, `#/tasks/<id>`, `#/stats`, `#/channels`, `#/webhooks` (failed),
 * `#/webhooks/pending`, `#/webhooks/delivered`.
 */
import { useCallback, useSyncExternalStore } from 'react';
import type { WebhookStatus } from './api.js';

export type Route =
  | { view: 'tasks'; taskId: string | null }
  | { view: 'stats' }
  | { view: 'channels' }
  | { view: 'webhooks'; status: WebhookStatus };

export function parseRoute(hash: string): Route {
  const [view, ...rest] = hash.replace(/^#\/?/, '').split('/');
  if (view === 'stats') return { view: 'stats' };
  if (view === 'channels') return { view: 'channels' };
  if (view === 'webhooks') {
    const status = rest[0] === 'pending' || rest[0] === 'delivered' ? rest[0] : 'failed';
    return { view: 'webhooks', status };
  }
  const id = rest.join('/');
  return { view: 'tasks', taskId: view === 'tasks' && id ? decodeURIComponent(id) : null };
}

export function routeHref(route: Route): string {
  if (route.view === 'webhooks') return route.status === 'failed' ? '#/webhooks' : `#/webhooks/${route.status}`;
  if (route.view !== 'tasks') return `#/${route.view}`;
  return route.taskId ? `#/tasks/${encodeURIComponent(route.taskId)}` : '#/tasks';
}

const subscribe = (onChange: () => void): (() => void) => {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
};
const getHash = (): string => window.location.hash;

export function useRoute(): [Route, (route: Route) => void] {
  const hash = useSyncExternalStore(subscribe, getHash, () => '');
  const go = useCallback((route: Route) => {
    window.location.hash = routeHref(route);
  }, []);
  return [parseRoute(hash), go];
}
