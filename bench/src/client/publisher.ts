/**
 * A publisher process of the load generator, with its own connection(s) to the
 * target: a WebSocket publisher (ws-publisher.ts) or a backend updating tasks over
 * HTTP (http-publisher.ts). The bench drives it over IPC: connect, run (a paced,
 * bounded burst of publishes, every reply awaited), close.
 */
import { announceReady, serveRequests } from '../ipc.js';
import { HttpPublisher } from './http-publisher.js';
import { pace, type PaceArgs, type PaceResult } from './pacing.js';
import type { Dialect } from './session.js';
import { tokenFor, type TokenPlan } from './tokens.js';
import { WsPublisher } from './ws-publisher.js';

export type PublisherConnect =
  | { via: 'ws'; dialect: Dialect; url: string; tokens: TokenPlan; index: number; timeoutMs: number }
  | { via: 'http'; url: string; connections: number; apiKey: string };

export interface PublisherRun extends PaceArgs {
  /** Channel (ws: `<prefix><k>`) or task id (http: `<prefix><k>`) of the j-th publish: k = (first + j·stride) mod n. */
  prefix: string;
  n: number;
  first: number;
  stride: number;
  padBytes: number;
}

const now = (): number => performance.timeOrigin + performance.now();

let ws: WsPublisher | null = null;
let http: HttpPublisher | null = null;

async function connect(a: PublisherConnect): Promise<null> {
  if (a.via === 'http') {
    http = new HttpPublisher(a.url, a.connections, a.apiKey);
    return null;
  }
  ws = new WsPublisher(a.dialect);
  await ws.open(a.url, tokenFor(a.tokens, a.index), a.timeoutMs);
  return null;
}

function run(a: PublisherRun): Promise<PaceResult> {
  const pad = JSON.stringify('x'.repeat(a.padBytes));
  const target = (j: number): string => `${a.prefix}${(a.first + j * a.stride) % a.n}`;
  // Each channel's j-th publish of this run: progress moves every round over the channels.
  const round = (j: number): number => Math.floor((j * a.stride) / a.n);
  if (ws) {
    const w = ws;
    return pace(a, (j) => w.publish(target(j), `{"t":${now()},"i":${j},"p":${pad}}`));
  }
  if (http) {
    const h = http;
    return pace(a, (j) => h.update(target(j), `{"progress":${1 + (round(j) % 99)},"meta":{"t":${now()}}}`));
  }
  return Promise.reject(new Error('publisher: connect first'));
}

function close(): null {
  ws?.close();
  http?.close();
  ws = null;
  http = null;
  return null;
}

serveRequests(
  {
    connect: (a) => connect(a as PublisherConnect),
    run: (a) => run(a as PublisherRun),
    close,
    stop: () => {
      close();
      setImmediate(() => process.exit(0));
      return null;
    },
  },
  () => {
    close();
    process.exit(0);
  },
);
announceReady({ ready: true });
