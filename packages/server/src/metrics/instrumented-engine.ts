/**
 * An Engine decorator that times every operation (`taskwire_engine_operation_seconds{op}`),
 * counts failures (`taskwire_engine_errors_total{op}`) and counts appended events
 * (`taskwire_events_published_total`: publishes that were not idempotent repeats, and
 * the events of successful commits). Engines stay free of metrics code.
 *
 * The subscribe listener is passed through untouched: delivery is not timed here
 * (the Hub observes the delivery latency). Methods are plain properties, so a test
 * may still replace one (`engine.ping = …`).
 */
import type { Engine } from '../engine/types.js';
import type { Metrics } from './metrics.js';

export function instrumentEngine(engine: Engine, metrics: Metrics): Engine {
  const seconds = metrics.engineSeconds;
  const errors = metrics.engineErrors;

  async function timed<T>(op: string, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } catch (err) {
      errors.inc({ op });
      throw err;
    } finally {
      seconds.observe({ op }, (performance.now() - start) / 1000);
    }
  }

  return {
    kind: engine.kind,
    start: () => timed('start', () => engine.start()),
    getTask: (id) => timed('getTask', () => engine.getTask(id)),
    listTasks: (req) => timed('listTasks', () => engine.listTasks(req)),
    async commit(req) {
      const result = await timed('commit', () => engine.commit(req));
      if (result.ok && result.events.length > 0) metrics.published.inc(result.events.length);
      return result;
    },
    lookupIdempotency: (key) => timed('lookupIdempotency', () => engine.lookupIdempotency(key)),
    async publish(req) {
      const result = await timed('publish', () => engine.publish(req));
      if (!result.duplicate) metrics.published.inc();
      return result;
    },
    history: (channel, req) => timed('history', () => engine.history(channel, req)),
    dueStalls: (now, limit) => timed('dueStalls', () => engine.dueStalls(now, limit)),
    claim: (key, ttlMs) => timed('claim', () => engine.claim(key, ttlMs)),
    subscribe: (channel, listener) => timed('subscribe', () => engine.subscribe(channel, listener)),
    ping: () => timed('ping', () => engine.ping()),
    stats: () => engine.stats(),
    close: () => timed('close', () => engine.close()),
  };
}
