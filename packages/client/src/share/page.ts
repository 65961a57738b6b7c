/**
 * Page lifecycle signals for tab sharing: a tab that is frozen, or hidden into the
 * back/forward cache, leaves its group first (a leader hands the lock over at
 * once instead of going silent), and joins again when it resumes. `pagehide`
 * also fires when the tab closes: its `bye` lets the leader drop its
 * subscriptions without waiting for the dead-tab check. Outside a browser this is
 * a no-op. Returns a function that detaches.
 */
interface EventTargetLike {
  addEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void;
  removeEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void;
}

export function watchPage(notify: (signal: 'freeze' | 'resume') => void): () => void {
  const { window: win, document: doc } = globalThis as { window?: EventTargetLike; document?: EventTargetLike };
  const freeze = (): void => notify('freeze');
  const resume = (): void => notify('resume');
  const show = (event: { persisted?: boolean }): void => {
    if (event.persisted) notify('resume');
  };
  doc?.addEventListener('freeze', freeze);
  doc?.addEventListener('resume', resume);
  win?.addEventListener('pagehide', freeze);
  win?.addEventListener('pageshow', show);
  return () => {
    doc?.removeEventListener('freeze', freeze);
    doc?.removeEventListener('resume', resume);
    win?.removeEventListener('pagehide', freeze);
    win?.removeEventListener('pageshow', show);
  };
}
