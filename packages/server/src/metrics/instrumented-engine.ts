/**
 * An Engine decorator that times every operation (`taskwire_engine_operation_seconds{op}`),
 * counts failures (`taskwire_engine_errors_total{op}`) and counts appended events
 * (`taskwire_events_published_total`: publishes that were not idempotent repeats, and
 * the events of successful commits). Engines stay free of metrics code.
 *
 * Each operation's histogram series is resolved once, here: observing is a few
 * additions (see hot-histogram.ts), and the wrapper adds one promise reaction, no
 * `async` frame. An engine's synchronous task store (`sync`) is timed the same way,
 * into the same `getTask` and `commit` series.
 *
 * The subscribe listener is passed through untouched: delivery is not timed here
 * (the Hub observes the delivery latency). Methods are plain properties, so a test
 * may still replace one (`engine.ping = …`).
 */
import type { CommitRequest, CommitResult, Engine, PublishRequest, StreamAppendRequest } from '../engine/types.js';
import { TaskwireError } from '@taskwire/protocol';
import { attempt } from '../util/attempt.js';
import type { Metrics } from './metrics.js';

/** Operations that write: their outcome is the engine's write health (/readyz, `taskwire_engine_writes_failing`). */
const WRITES = new Set(['commit', 'publish', 'claim', 'ping', 'appendStream', 'deleteTrees']);

/** A failure of the storage itself (not a contract answer such as `conflict` or `bad_request`). */
function storageFailed(err: unknown): boolean {
  return !(err instanceof TaskwireError) || err.code === 'unavailable';
}

export function instrumentEngine(engine: Engine, metrics: Metrics): Engine {
  const errors = metrics.engineErrors;
  const writes = metrics.writes;
  const wrote = (ok: boolean, err?: unknown): void => {
    if (ok) writes.failing = false;
    else if (storageFailed(err)) {
      writes.failing = true;
      metrics.writeFailures.inc();
    }
  };

  function timer(op: string): <T>(run: () => Promise<T>) => Promise<T> {
    const series = metrics.engineSeconds.child(op);
    const failed = errors.labels({ op });
    const isWrite = WRITES.has(op);
    return <T>(run: () => Promise<T>): Promise<T> => {
      const start = performance.now();
      const done = (): void => series.observe((performance.now() - start) / 1000);
      return attempt(run).then(
        (value) => {
          done();
          if (isWrite) wrote(true);
          return value;
        },
        (err: unknown) => {
          done();
          failed.inc();
          if (isWrite) wrote(false, err);
          throw err;
        },
      );
    };
  }

  const counted = (result: CommitResult): CommitResult => {
    if (result.ok) metrics.published.total += result.events.length;
    return result;
  };

  const t = {
    start: timer('start'),
    getTask: timer('getTask'),
    listTasks: timer('listTasks'),
    children: timer('children'),
    appendStream: timer('appendStream'),
    readStream: timer('readStream'),
    commit: timer('commit'),
    lookupIdempotency: timer('lookupIdempotency'),
    publish: timer('publish'),
    history: timer('history'),
    dueStalls: timer('dueStalls'),
    expired: timer('expired'),
    deleteTrees: timer('deleteTrees'),
    claim: timer('claim'),
    subscribe: timer('subscribe'),
    ping: timer('ping'),
    close: timer('close'),
  };

  /** The synchronous task store, timed into the same series as the async operations. */
  function timedSync<A, T>(op: string, fn: (arg: A) => T): (arg: A) => T {
    const series = metrics.engineSeconds.child(op);
    const failed = errors.labels({ op });
    const isWrite = WRITES.has(op);
    return (arg: A): T => {
      const start = performance.now();
      try {
        const value = fn(arg);
        if (isWrite && writes.failing) writes.failing = false;
        return value;
      } catch (err) {
        failed.inc();
        if (isWrite) wrote(false, err);
        throw err;
      } finally {
        series.observe((performance.now() - start) / 1000);
      }
    };
  }

  const sync = engine.sync;
  const syncCommit = sync && timedSync('commit', (req: CommitRequest) => sync.commit(req));
  const syncCommitAll = sync && timedSync('commit', (reqs: readonly CommitRequest[]) => sync.commitAll(reqs));
  const syncPublish = sync && timedSync('publish', (req: PublishRequest) => sync.publish(req));

  return {
    kind: engine.kind,
    ...(sync && syncCommit && syncCommitAll && syncPublish
      ? {
          sync: {
            getTask: timedSync('getTask', (id: string) => sync.getTask(id)),
            commit: (req: CommitRequest) => counted(syncCommit(req)),
            commitAll: (reqs: readonly CommitRequest[]) => counted(syncCommitAll(reqs)),
            children: timedSync('children', (id: string) => sync.children(id)),
            appendStream: timedSync('appendStream', (req: StreamAppendRequest) => sync.appendStream(req)),
            publish: (req: PublishRequest) => {
              const result = syncPublish(req);
              if (!result.duplicate) metrics.published.total += 1;
              return result;
            },
          },
        }
      : {}),
    start: () => t.start(() => engine.start()),
    getTask: (id) => t.getTask(() => engine.getTask(id)),
    listTasks: (req) => t.listTasks(() => engine.listTasks(req)),
    children: (parentId) => t.children(() => engine.children(parentId)),
    appendStream: (req) => t.appendStream(() => engine.appendStream(req)),
    readStream: (taskId, stream) => t.readStream(() => engine.readStream(taskId, stream)),
    ...(engine.pendingParents ? { pendingParents: engine.pendingParents } : {}),
    ...(engine.outbox ? { outbox: engine.outbox } : {}),
    commit: (req) => t.commit(() => engine.commit(req)).then(counted),
    lookupIdempotency: (key) => t.lookupIdempotency(() => engine.lookupIdempotency(key)),
    publish: (req) =>
      t
        .publish(() => engine.publish(req))
        .then((result) => {
          if (!result.duplicate) metrics.published.total += 1;
          return result;
        }),
    history: (channel, req) => t.history(() => engine.history(channel, req)),
    dueStalls: (now, limit) => t.dueStalls(() => engine.dueStalls(now, limit)),
    expired: (req) => t.expired(() => engine.expired(req)),
    deleteTrees: (reqs) => t.deleteTrees(() => engine.deleteTrees(reqs)),
    claim: (key, ttlMs) => t.claim(() => engine.claim(key, ttlMs)),
    subscribe: (channel, listener) => t.subscribe(() => engine.subscribe(channel, listener)),
    ping: () => t.ping(() => engine.ping()),
    stats: () => engine.stats(),
    close: () => t.close(() => engine.close()),
  };
}
