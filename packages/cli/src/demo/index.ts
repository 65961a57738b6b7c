/**
 * `taskwire serve --demo`: simulated workers that keep a few owners' tasks moving,
 * through the public HTTP API only (the backend client with the server's API key),
 * so a first start shows life. Bounded: at most `maxInFlight` tasks at once (a
 * batch of 12 pages counts one); one approval pending at a time; a dying worker at
 * most every 5 minutes; the batch (batch.ts) second and the streamed release notes
 * (notes.ts) third, then each at most every 2 minutes and never two at once; every
 * timer unref'd; `stop()` aborts every request and sleep and resolves once all are done.
 */
import { randomBytes } from 'node:crypto';
import { createBackend, TaskwireApiError, type TaskwireBackend } from '@taskwire/client/backend';
import { runBatch } from './batch.js';
import { between, createClock, type Clock } from './clock.js';
import { ownedFetch } from './http.js';
import { runNotes } from './notes.js';
import { DEMO_OWNERS, SCENARIOS, type Scenario } from './scenarios.js';
import { runWorker, type WorkerEnd } from './worker.js';

export { DEMO_OWNERS, SCENARIOS };

/** How often the batch and the streamed task start again (at speed 1). */
const EXTRA_EVERY_MS = 120_000;

/** The room the demo publishes to. */
export const DEMO_ROOM = 'room:demo';

/** What the demo logs through; pino's logger fits. */
export interface DemoLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface DemoOptions {
  /** The server's base URL, `http://127.0.0.1:8080`. */
  url: string;
  apiKey: string;
  logger?: DemoLogger;
  /** Time multiplier: 10 runs everything ten times faster (tests). @default 1 */
  speed?: number;
  /** @default 8 */
  maxInFlight?: number;
}

export interface Demo {
  /** Stop every worker (no new task, no further request); resolves when all have returned. */
  stop(): Promise<void>;
}

const QUIET: DemoLogger = { info: () => undefined, warn: () => undefined, debug: () => undefined };

export function startDemo(opts: DemoOptions): Demo {
  const speed = opts.speed ?? 1;
  if (!(speed > 0 && Number.isFinite(speed))) throw new RangeError(`speed must be a positive number, got ${speed}`);
  const log = opts.logger ?? QUIET;
  const max = Math.max(1, opts.maxInFlight ?? 8);
  const abort = new AbortController();
  const { signal } = abort;
  const clock = createClock(speed, signal);
  const http = ownedFetch(signal);
  const tw = createBackend({
    url: opts.url,
    apiKey: opts.apiKey,
    retries: 1,
    retryMinMs: 100,
    retryMaxMs: 300,
    fetch: http.fetch,
  });
  const state: DemoState = {
    tw,
    clock,
    log,
    max,
    running: new Set(),
    counts: new Map(),
    awaiting: 0,
    lastDeath: -Infinity,
    extras: {
      batch: { runs: 0, running: false, last: -Infinity },
      notes: { runs: 0, running: false, last: -Infinity },
    },
  };
  const loops = [scheduleLoop(state), publishLoop(state)];
  log.info({ speed, maxInFlight: max, owners: DEMO_OWNERS, room: DEMO_ROOM }, 'demo workers started');

  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        abort.abort();
        await Promise.allSettled([...loops, ...state.running]);
        http.close();
        log.info({}, 'demo workers stopped');
      })();
      return stopping;
    },
  };
}

interface DemoState {
  tw: TaskwireBackend;
  clock: Clock;
  log: DemoLogger;
  max: number;
  running: Set<Promise<void>>;
  counts: Map<string, number>;
  /** Approvals waiting for a decision. */
  awaiting: number;
  /** Date.now() of the last worker that died. */
  lastDeath: number;
  /** The batch and the streamed task: how many ran, whether one runs, when the last started. */
  extras: Record<Extra, { runs: number; running: boolean; last: number }>;
}

type Extra = 'batch' | 'notes';

/** Start a task every 1.5-4 s (a quicker burst at first) while fewer than `max` run. */
async function scheduleLoop(st: DemoState): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  let next = 0;
  for (let n = 1; !st.clock.signal.aborted;) {
    if (st.running.size < st.max) {
      const extra = chooseExtra(st, n);
      if (extra) launchExtra(st, extra, `${extra === 'batch' ? 'pages' : 'notes'}-${tag}-${n++}`);
      else {
        const scenario = choose(st, next);
        next = (SCENARIOS.indexOf(scenario) + 1) % SCENARIOS.length;
        launch(st, scenario, `${scenario.slug}-${tag}-${n++}`);
      }
    }
    if (!(await st.clock.sleep(n <= 4 ? between(300, 700) : between(1_500, 4_000)))) return;
  }
}

/** The batch as the 2nd task, the streamed notes as the 3rd; then each when none runs and 2 minutes passed. */
function chooseExtra(st: DemoState, n: number): Extra | null {
  if (n === 2) return 'batch';
  if (n === 3) return 'notes';
  if (n < 3) return null;
  for (const extra of ['batch', 'notes'] as const) {
    const e = st.extras[extra];
    if (!e.running && Date.now() - e.last >= st.clock.scale(EXTRA_EVERY_MS)) return extra;
  }
  return null;
}

/** Runs alternate: the first batch has a page failing its fact check, the next succeeds, and so on. */
function launchExtra(st: DemoState, extra: Extra, id: string): void {
  const e = st.extras[extra];
  const run = e.runs++;
  e.running = true;
  e.last = Date.now();
  const work =
    extra === 'batch'
      ? runBatch({ tw: st.tw, clock: st.clock, id, failPage: run % 2 === 0 })
      : runNotes({ tw: st.tw, clock: st.clock, id, run });
  track(st, id, work, () => {
    e.running = false;
  });
}

/** The scenario at `from`, skipping an approval while one is pending and a dying worker within 5 minutes of the last. */
function choose(st: DemoState, from: number): Scenario {
  for (let i = 0; i < SCENARIOS.length; i++) {
    const s = SCENARIOS[(from + i) % SCENARIOS.length];
    if (!s) continue;
    if (s.outcome === 'approval' && st.awaiting > 0) continue;
    if (s.outcome === 'die' && Date.now() - st.lastDeath < st.clock.scale(300_000)) continue;
    return s;
  }
  return SCENARIOS[0] as Scenario;
}

function launch(st: DemoState, scenario: Scenario, id: string): void {
  if (scenario.outcome === 'die') st.lastDeath = Date.now();
  if (scenario.outcome === 'approval') st.awaiting += 1; // held from the start, so a second one never starts
  let held = scenario.outcome === 'approval';
  const release = (): void => {
    if (held) st.awaiting -= 1;
    held = false;
  };
  const work = runWorker(scenario, {
    tw: st.tw,
    clock: st.clock,
    id,
    stallTimeoutMs: st.clock.scale(10_000),
    approvalTimeoutMs: st.clock.scale(600_000),
    awaiting: (waiting) => {
      if (!waiting) release();
    },
  });
  track(st, id, work, release);
}

/** Counts a worker in flight until it ends, then `done()`. */
function track(st: DemoState, id: string, work: Promise<WorkerEnd>, done: () => void): void {
  const run = work
    .then(
      (end: WorkerEnd) => {
        st.counts.set(end, (st.counts.get(end) ?? 0) + 1);
        st.log.debug({ taskId: id, end }, 'demo task ended');
      },
      (err: unknown) => {
        if (st.clock.signal.aborted) return;
        // A 409 means someone else ended the task (cancelled from a dashboard): not a problem.
        if (err instanceof TaskwireApiError && err.code === 'conflict')
          st.log.debug({ taskId: id, err }, 'demo task ended elsewhere');
        else st.log.warn({ taskId: id, err }, 'demo task stopped early');
      },
    )
    .finally(() => {
      done();
      st.running.delete(run);
    });
  st.running.add(run);
}

/** Publish the demo's counters to room:demo every 5 s. */
async function publishLoop(st: DemoState): Promise<void> {
  for (let beat = 1; await st.clock.sleep(5_000); beat++) {
    try {
      await st.tw.publish(DEMO_ROOM, {
        kind: 'demo.stats',
        beat,
        inFlight: st.running.size,
        ended: Object.fromEntries(st.counts),
        at: new Date().toISOString(),
      });
    } catch (err) {
      if (st.clock.signal.aborted) return;
      st.log.warn({ err }, 'demo publish failed');
    }
  }
}
