/**
 * Browser signals: `online`/`offline` on window and `visibilitychange` on document.
 * In Node (no window/document) this is a no-op. Returns a function that detaches.
 */
export type EnvironmentSignal = 'online' | 'offline' | 'visible';

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

export function watchEnvironment(notify: (signal: EnvironmentSignal) => void): () => void {
  const g = globalThis as { window?: EventTargetLike; document?: EventTargetLike & { visibilityState?: string } };
  const { window: win, document: doc } = g;
  const online = (): void => notify('online');
  const offline = (): void => notify('offline');
  const visibility = (): void => {
    if (doc?.visibilityState === 'visible') notify('visible');
  };
  win?.addEventListener('online', online);
  win?.addEventListener('offline', offline);
  doc?.addEventListener('visibilitychange', visibility);
  return () => {
    win?.removeEventListener('online', online);
    win?.removeEventListener('offline', offline);
    doc?.removeEventListener('visibilitychange', visibility);
  };
}
