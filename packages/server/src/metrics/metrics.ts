/**
 * Prometheus metrics of one server instance (`GET /metrics`), on a registry of its
 * own (never prom-client's global one), so several servers in one process do not
 * collide.
 *
 * The hot path stays cheap: per-socket work per event is one integer add on a plain
 * counter object (`delivered.ws += 1`); gauges and per-transport totals are read from
 * their owners (hub stats, transport registries) only when Prometheus scrapes. The
 * delivery latency is observed once per event per channel, at its first socket write
 * (the Hub calls `observeDeliveryLatency`), not once per socket. The histograms fed on
 * the hot path (delivery latency, engine operations) are `HotHistogram`s: no label
 * hashing or allocation per observation, and the HTTP request counter adds one to a
 * plain number per request (`http-requests.ts`).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Transport, TransportCounts } from '../hub/types.js';
import { HotHistogram, type HotSeries } from './hot-histogram.js';
import { HttpRequestCounter } from './http-requests.js';

export type { Transport, TransportCounts };
export const TRANSPORTS: readonly Transport[] = ['ws', 'sse', 'longpoll'];

/** Where the scrape-time values come from (set by the plugin once the transports exist). */
export interface MetricsSources {
  connections(): TransportCounts;
  pendingAuth(): number;
  slowConsumerCloses(): TransportCounts;
  hub(): { subscriptions: number; channels: number };
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC), default true. */
  processMetrics?: boolean;
}

const EVENT_LOOP_SAMPLE_MS = 100;
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const ENGINE_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

export const zeroCounts = (): TransportCounts => ({ ws: 0, sse: 0, longpoll: 0 });

export class Metrics {
  readonly registry = new Registry();
  /** Events written to subscribers, per transport: bumped on the hot path, read at scrape time. */
  readonly delivered: TransportCounts = zeroCounts();
  /** Events appended through this node: bumped on the hot path, read at scrape time. */
  readonly published = { total: 0 };
  readonly authFailures: Counter<'reason'>;
  readonly engineSeconds: HotHistogram;
  readonly engineErrors: Counter<'op'>;
  /** Writes that failed for the storage (a full disk, Redis away), and whether the last write did. */
  readonly writeFailures: Counter;
  readonly writes = { failing: false };
  /** Answered HTTP requests: counted in plain numbers, read at scrape time. */
  readonly httpRequests: HttpRequestCounter;
  private readonly latency: HotSeries;
  private sources: MetricsSources | null = null;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    const self = (): MetricsSources | null => this.sources;
    const delivered = this.delivered;
    new Gauge({
      name: 'taskwire_connections',
      help: 'Open client connections on this node, by transport (ws, sse, longpoll: requests waiting).',
      labelNames: ['transport'],
      registers,
      collect() {
        const c = self()?.connections() ?? zeroCounts();
        for (const t of TRANSPORTS) this.set({ transport: t }, c[t]);
      },
    });
    new Gauge({
      name: 'taskwire_pending_auth_connections',
      help: 'WebSockets that have not authenticated yet (they hold no connection slot; --max-pending-auth).',
      registers,
      collect() {
        this.set(self()?.pendingAuth() ?? 0);
      },
    });
    new Gauge({
      name: 'taskwire_subscriptions',
      help: 'Channel subscriptions held by local subscribers (all transports).',
      registers,
      collect() {
        this.set(self()?.hub().subscriptions ?? 0);
      },
    });
    new Gauge({
      name: 'taskwire_channels',
      help: 'Channels with at least one local subscriber (one engine subscription each).',
      registers,
      collect() {
        this.set(self()?.hub().channels ?? 0);
      },
    });
    new Counter({
      name: 'taskwire_events_delivered_total',
      help: 'Events written to subscribers, by transport (one per subscriber per event).',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        for (const t of TRANSPORTS) this.inc({ transport: t }, delivered[t]);
      },
    });
    new Counter({
      name: 'taskwire_slow_consumer_closes_total',
      help: 'Connections closed because their send buffer went over --send-buffer-bytes, by transport.',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        const c = self()?.slowConsumerCloses() ?? zeroCounts();
        for (const t of TRANSPORTS) this.inc({ transport: t }, c[t]);
      },
    });
    const published = this.published;
    new Counter({
      name: 'taskwire_events_published_total',
      help: 'Events appended through this node (publishes and task events; idempotent repeats excluded).',
      registers,
      collect() {
        this.reset();
        this.inc(published.total);
      },
    });
    this.latency = new HotHistogram({
      name: 'taskwire_delivery_latency_seconds',
      help: 'From the engine storing an event to its first socket write on this node (once per event per channel).',
      buckets: LATENCY_BUCKETS,
      registers,
    }).child();
    this.authFailures = new Counter({
      name: 'taskwire_auth_failures_total',
      help: 'Refused credentials, by reason (invalid, expired, ticket_invalid, ticket_used, missing).',
      labelNames: ['reason'],
      registers,
    });
    this.engineSeconds = new HotHistogram({
      name: 'taskwire_engine_operation_seconds',
      help: 'Engine operation latency, by operation.',
      labelName: 'op',
      buckets: ENGINE_BUCKETS,
      registers,
    });
    this.engineErrors = new Counter({
      name: 'taskwire_engine_errors_total',
      help: 'Engine operations that failed, by operation.',
      labelNames: ['op'],
      registers,
    });
    this.writeFailures = new Counter({
      name: 'taskwire_engine_write_failures_total',
      help: 'Engine writes (commits, publishes, claims, readiness probes) that failed because the storage could not be written.',
      registers,
    });
    const writes = this.writes;
    new Gauge({
      name: 'taskwire_engine_writes_failing',
      help: '1 while the last engine write failed (then /readyz answers 503), else 0.',
      registers,
      collect() {
        this.set(writes.failing ? 1 : 0);
      },
    });
    this.httpRequests = new HttpRequestCounter(registers);
    // Event loop delay sampled every 100 ms, not prom-client's default 10 ms: that timer would be most of
    // an idle node's wakeups (and CPU); a stall of more than a few ms still shows.
    if (opts.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    }
  }

  /** Called by the plugin once the transports exist. */
  setSources(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** The Hub calls this once per event per channel, at the first socket write. */
  observeDeliveryLatency(eventTime: number): void {
    const ms = Date.now() - eventTime;
    this.latency.observe(ms > 0 ? ms / 1000 : 0);
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
