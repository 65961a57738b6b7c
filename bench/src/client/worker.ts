/**
 * A load-generator process: holds many Sessions against one target and answers the
 * bench's requests (ipc.ts): open, reset, stats, drop, recover, close.
 */
import { Histogram, type HistogramData } from '../histogram.js';
import { announceReady, serveRequests } from '../ipc.js';
import { Session, type Dialect, type Tally } from './session.js';
import { tokenFor, type TokenPlan } from './tokens.js';

export interface OpenArgs {
  dialect: Dialect;
  url: string;
  /** Global index of this worker's first client (channels and tokens are picked by index). */
  first: number;
  count: number;
  /** One channel for all, `<prefix><index % modulo>` per client, or none (connect only). */
  channel: { kind: 'one'; name: string } | { kind: 'each'; prefix: string; modulo: number } | { kind: 'none' };
  /** One distinct JWT per client, signed here before the clock starts. */
  tokens: TokenPlan;
  concurrency: number;
  timeoutMs: number;
}

export interface OpenStats {
  opened: number;
  failed: number;
  /** From the first connect to the last client ready (token signing not included). */
  ms: number;
  firstError: string | null;
}

export interface RecoverArgs {
  url: string;
  concurrency: number;
  timeoutMs: number;
}

export interface RecoverStats extends OpenStats {
  recovered: number;
  notRecovered: number;
  replayed: number;
  badReplays: number;
  /** Time from the start of the storm until each client was recovered, µs. */
  latency: HistogramData;
}

export interface WorkerStats {
  received: number;
  firstAt: number;
  lastAt: number;
  outOfOrder: number;
  unexpectedCloses: number;
  errors: string[];
  latency: HistogramData;
  minPerClient: number;
  clients: number;
}

const now = (): number => performance.timeOrigin + performance.now();

const tally: Tally = {
  received: 0,
  firstAt: 0,
  lastAt: 0,
  outOfOrder: 0,
  unexpectedCloses: 0,
  errors: [],
  latency: new Histogram(),
};
let sessions: Session[] = [];

/** Run `jobs` with at most `limit` in flight. */
async function pool(count: number, limit: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}

function channelOf(a: OpenArgs, index: number): string | null {
  switch (a.channel.kind) {
    case 'one':
      return a.channel.name;
    case 'each':
      return `${a.channel.prefix}${index % a.channel.modulo}`;
    case 'none':
      return null;
  }
}

async function open(a: OpenArgs): Promise<OpenStats> {
  const tokens = Array.from({ length: a.count }, (_, k) => tokenFor(a.tokens, a.first + k));
  const start = now();
  let failed = 0;
  let firstError: string | null = null;
  const fresh: Session[] = [];
  await pool(a.count, a.concurrency, async (k) => {
    const index = a.first + k;
    const s = new Session(a.dialect, tally, channelOf(a, index), tokens[k]);
    try {
      await s.open(a.url, a.timeoutMs);
      fresh.push(s);
    } catch (err) {
      failed += 1;
      firstError ??= err instanceof Error ? err.message : String(err);
    }
  });
  sessions = sessions.concat(fresh);
  return { opened: fresh.length, failed, ms: now() - start, firstError };
}

function reset(): null {
  tally.received = 0;
  tally.firstAt = 0;
  tally.lastAt = 0;
  tally.outOfOrder = 0;
  tally.unexpectedCloses = 0;
  tally.errors = [];
  tally.latency.reset();
  for (const s of sessions) s.received = 0;
  return null;
}

function stats(): WorkerStats {
  let min = Infinity;
  for (const s of sessions) min = Math.min(min, s.received);
  return {
    received: tally.received,
    firstAt: tally.firstAt,
    lastAt: tally.lastAt,
    outOfOrder: tally.outOfOrder,
    unexpectedCloses: tally.unexpectedCloses,
    errors: tally.errors.slice(0, 5),
    latency: tally.latency.toJSON(),
    minPerClient: sessions.length === 0 ? 0 : min,
    clients: sessions.length,
  };
}

function drop(): number {
  for (const s of sessions) s.drop();
  return sessions.length;
}

async function recover(a: RecoverArgs): Promise<RecoverStats> {
  const start = now();
  const latency = new Histogram();
  let failed = 0;
  let recovered = 0;
  let notRecovered = 0;
  let replayed = 0;
  let badReplays = 0;
  let firstError: string | null = null;
  const list = sessions;
  await pool(list.length, a.concurrency, async (k) => {
    const s = list[k] as Session;
    try {
      const r = await s.open(a.url, a.timeoutMs, { ...s.position });
      latency.record((now() - start) * 1000);
      if (r.recovered) recovered += 1;
      else notRecovered += 1;
      replayed += r.replayed ?? 0;
      if (r.replayOk === false) badReplays += 1;
    } catch (err) {
      failed += 1;
      firstError ??= err instanceof Error ? err.message : String(err);
    }
  });
  return {
    opened: list.length - failed,
    failed,
    ms: now() - start,
    firstError,
    recovered,
    notRecovered,
    replayed,
    badReplays,
    latency: latency.toJSON(),
  };
}

function closeAll(): null {
  for (const s of sessions) s.drop();
  sessions = [];
  return null;
}

serveRequests(
  {
    open: (a) => open(a as OpenArgs),
    reset,
    stats,
    drop,
    recover: (a) => recover(a as RecoverArgs),
    close: closeAll,
    stop: () => {
      closeAll();
      setImmediate(() => process.exit(0));
      return null;
    },
  },
  () => {
    closeAll();
    process.exit(0);
  },
);
announceReady({ ready: true });
