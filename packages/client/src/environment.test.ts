import { afterEach, describe, expect, it } from 'vitest';
import { watchEnvironment, type EnvironmentSignal } from './environment.js';

class Target {
  readonly listeners = new Map<string, Set<() => void>>();
  visibilityState = 'hidden';
  addEventListener(type: string, fn: () => void): void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(fn);
    this.listeners.set(type, set);
  }
  removeEventListener(type: string, fn: () => void): void {
    this.listeners.get(type)?.delete(fn);
  }
  fire(type: string): void {
    for (const fn of this.listeners.get(type) ?? []) fn();
  }
  get count(): number {
    return [...this.listeners.values()].reduce((n, s) => n + s.size, 0);
  }
}

const g = globalThis as { window?: unknown; document?: unknown };
afterEach(() => {
  delete g.window;
  delete g.document;
});

describe('watchEnvironment', () => {
  it('is a no-op without window and document (Node)', () => {
    const seen: EnvironmentSignal[] = [];
    const detach = watchEnvironment((s) => seen.push(s));
    detach();
    expect(seen).toEqual([]);
  });

  it('reports online, offline and becoming visible, and detaches every listener', () => {
    const win = new Target();
    const doc = new Target();
    g.window = win;
    g.document = doc;
    const seen: EnvironmentSignal[] = [];
    const detach = watchEnvironment((s) => seen.push(s));
    win.fire('offline');
    win.fire('online');
    doc.fire('visibilitychange'); // hidden: ignored
    doc.visibilityState = 'visible';
    doc.fire('visibilitychange');
    expect(seen).toEqual(['offline', 'online', 'visible']);
    detach();
    expect(win.count + doc.count).toBe(0);
  });
});
