/** Time for the demo: every delay is divided by `speed`, timers are unref'd and abortable. */

export interface Clock {
  /** Waits `ms / speed`; resolves early (false) when the signal aborts, so callers just check it and return. */
  sleep(ms: number): Promise<boolean>;
  /** `ms / speed`, at least 1 (for server-side durations such as stallTimeoutMs). */
  scale(ms: number): number;
  readonly signal: AbortSignal;
}

export function createClock(speed: number, signal: AbortSignal): Clock {
  return {
    signal,
    scale: (ms) => Math.max(1, Math.round(ms / speed)),
    sleep(ms) {
      return new Promise((resolve) => {
        if (signal.aborted) return resolve(false);
        const onAbort = (): void => {
          clearTimeout(timer);
          resolve(false);
        };
        const timer = setTimeout(
          () => {
            signal.removeEventListener('abort', onAbort);
            resolve(true);
          },
          Math.max(1, Math.round(ms / speed)),
        );
        timer.unref();
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}

/** A uniform random integer in [min, max]. */
export function between(min: number, max: number, random: () => number = Math.random): number {
  return Math.floor(min + random() * (max - min + 1));
}

export function pick<T>(items: readonly T[], random: () => number = Math.random): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}
