/**
 * `GET /metrics` against a real server: the body is strict Prometheus text
 * (exposition format 0.0.4), and the counters and gauges move as real WebSocket,
 * SSE, long-poll, publish and auth-failure traffic goes through. Two servers in one
 * process keep separate registries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../src/app/create-server.js';
import { createMemoryEngine } from '../src/engine/memory/memory-engine.js';
import { TEST_API_KEY, TEST_JWT_SECRET, startTestServer, type TestServer } from './helpers/server.js';
import { SseClient } from './helpers/sse-client.js';
import { TestClient, eventually } from './helpers/ws-client.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?,?\\})? (\\S+)(?: -?\\d+)?$`);
// Prometheus parses values with Go's ParseFloat: Inf and NaN in any case (prom-client writes `Nan`).
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?inf|nan)$/i;

/** Parse the text format strictly: every line is a HELP, a TYPE or a sample of a declared family. */
function parsePrometheus(text: string): Sample[] {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    let m = new RegExp(`^# HELP (${NAME}) .*$`).exec(line);
    if (m) continue;
    m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (m) {
      expect(types.has(m[1]!), `TYPE of ${m[1]} declared once`).toBe(false);
      types.set(m[1]!, m[2]!);
      continue;
    }
    const s = SAMPLE.exec(line);
    expect(s, `a valid sample line: ${line}`).not.toBeNull();
    const [, name, labelText, value] = s!;
    expect(value, line).toMatch(VALUE);
    const family = name!.replace(/_(bucket|sum|count|total|created)$/, '');
    expect(types.has(name!) || types.has(family), `family of ${name} has a TYPE`).toBe(true);
    const labels: Record<string, string> = {};
    for (const l of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: name!, labels, value: Number(value) });
  }
  return samples;
}

async function scrape(t: TestServer, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(`${t.url}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

/** The sum of the matching samples; absent is an error unless `orZero` (a labelled counter not incremented yet). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}, orZero = false): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (!orZero) expect(found.length, `${name}${JSON.stringify(labels)} present`).toBeGreaterThan(0);
  return found.reduce((sum, s) => sum + s.value, 0);
}

describe('/metrics', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it('is Prometheus text with the taskwire metrics and process metrics, without auth', async () => {
    const samples = await scrape(t);
    for (const name of [
      'taskwire_connections',
      'taskwire_subscriptions',
      'taskwire_channels',
      'taskwire_events_published_total',
      'taskwire_events_delivered_total',
      'taskwire_delivery_latency_seconds_count',
      'taskwire_slow_consumer_closes_total',
      'taskwire_engine_operation_seconds_count',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(
        samples.some((s) => s.name === name),
        name,
      ).toBe(true);
    }
    for (const transport of ['ws', 'sse', 'longpoll']) {
      expect(value(samples, 'taskwire_connections', { transport })).toBe(0);
    }
  });

  it('moves with WebSocket, SSE, long-poll, publish and auth-failure traffic', async () => {
    const before = await scrape(t);
    const token = await t.token({ sub: 'alice', channels: ['room:*'], publish: ['room:*'] });
    const channel = 'room:metrics';
    const ws = await TestClient.authed(t.wsUrl, token);
    expect((await ws.request({ op: 'subscribe', channel })).result).toBeDefined();
    const sse = new SseClient(`${t.url}/api/v1/channels/${channel}/events?token=${token}`);
    await eventually(() => t.server.stats().subscriptions === 2, 'both subscribed');

    const during = await scrape(t);
    expect(value(during, 'taskwire_connections', { transport: 'ws' })).toBe(1);
    expect(value(during, 'taskwire_connections', { transport: 'sse' })).toBe(1);
    expect(value(during, 'taskwire_subscriptions')).toBe(2);
    expect(value(during, 'taskwire_channels')).toBe(1);

    for (let i = 0; i < 5; i++) await ws.request({ op: 'publish', channel, data: { i } });
    await sse.take(5);
    for (let i = 0; i < 5; i++) await ws.next((f) => f.type === 'event', `event ${i}`);
    // Auth failures: a bad bearer token on HTTP, an invalid token on a WebSocket.
    expect((await t.api('GET', '/tasks', undefined, { token: 'not-a-jwt' })).status).toBe(401);
    const bad = await TestClient.connect(`${t.wsUrl}?token=garbage`);
    expect(await bad.closeCodeWithin()).toBe(4501);

    const after = await scrape(t);
    const delta = (name: string, labels: Record<string, string> = {}): number =>
      value(after, name, labels) - value(before, name, labels, true);
    expect(delta('taskwire_events_published_total')).toBe(5);
    expect(delta('taskwire_events_delivered_total', { transport: 'ws' })).toBe(5);
    expect(delta('taskwire_events_delivered_total', { transport: 'sse' })).toBe(5);
    // Observed once per event per channel (not per socket).
    expect(delta('taskwire_delivery_latency_seconds_count')).toBe(5);
    expect(delta('taskwire_auth_failures_total', { reason: 'invalid' })).toBeGreaterThanOrEqual(2);
    expect(delta('taskwire_engine_operation_seconds_count', { op: 'publish' })).toBe(5);
    expect(value(after, 'taskwire_http_requests_total', { route: '/api/v1/tasks', status: '401' })).toBeGreaterThan(0);

    // A long-poll that waits, and is answered by a publish.
    const h = await t.api('GET', `/channels/${channel}/history?limit=0`);
    const poll = t.api('GET', `/channels/${channel}/history?since=${h.body.epoch}:${h.body.offset}&wait=30`);
    await eventually(() => t.server.stats().connectionsByTransport.longpoll === 1, 'the poll waits');
    expect(value(await scrape(t), 'taskwire_connections', { transport: 'longpoll' })).toBe(1);
    await ws.request({ op: 'publish', channel, data: { last: true } });
    expect((await poll).body.events).toHaveLength(1);
    const polled = await scrape(t);
    expect(value(polled, 'taskwire_events_delivered_total', { transport: 'longpoll' })).toBe(1);

    ws.close();
    sse.close();
    await eventually(() => t.server.stats().connections === 0, 'all closed');
    const end = await scrape(t);
    for (const transport of ['ws', 'sse', 'longpoll']) {
      expect(value(end, 'taskwire_connections', { transport })).toBe(0);
    }
    expect(value(end, 'taskwire_subscriptions')).toBe(0);
  });

  it('counts slow-consumer closes', async () => {
    const t2 = await startTestServer({ sendBufferBytes: 1024 });
    try {
      const token = await t2.token({ sub: 'alice', channels: ['room:*'] });
      const c = await TestClient.authed(t2.wsUrl, token, { inbox: (f) => f.type !== 'event' });
      await c.request({ op: 'subscribe', channel: 'room:flood' });
      const big = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 200 && c.closeCode === null; i++) {
        await t2.server.ctx.engine.publish({ channel: 'room:flood', data: { big } });
      }
      expect(await c.closeCodeWithin()).toBe(4009);
      const samples = await scrape(t2);
      expect(value(samples, 'taskwire_slow_consumer_closes_total', { transport: 'ws' })).toBe(1);
    } finally {
      await t2.close();
    }
  });

  it('times engine operations and counts their errors (the instrumented engine)', async () => {
    const server = await createServer({
      jwtSecret: TEST_JWT_SECRET,
      apiKey: TEST_API_KEY,
      logLevel: 'silent',
      port: 0,
      processMetrics: false,
      engineFactory: (config) => {
        const engine = createMemoryEngine({ historySize: config.historySize, historyTtlMs: config.historyTtlMs });
        engine.ping = () => Promise.reject(new Error('down'));
        return engine;
      },
    });
    try {
      const { url } = await server.listen();
      expect((await fetch(`${url}/readyz`)).status).toBe(503);
      await server.ctx.engine.publish({ channel: 'room:x', data: 1 });
      const samples = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
      expect(value(samples, 'taskwire_engine_errors_total', { op: 'ping' })).toBe(1);
      expect(value(samples, 'taskwire_engine_operation_seconds_count', { op: 'ping' })).toBe(1);
      expect(value(samples, 'taskwire_engine_operation_seconds_count', { op: 'publish' })).toBe(1);
      expect(samples.some((s) => s.name.startsWith('process_'))).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('needs the metrics token when --metrics-token is set; /healthz and /readyz stay open', async () => {
    const t2 = await startTestServer({ metricsToken: 'metrics-secret-123' });
    try {
      const none = await fetch(`${t2.url}/metrics`);
      expect(none.status).toBe(401);
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      expect((await fetch(`${t2.url}/metrics`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
      const samples = await scrape(t2, { authorization: 'Bearer metrics-secret-123' });
      expect(value(samples, 'taskwire_auth_failures_total', { reason: 'missing' })).toBe(1);
      expect((await fetch(`${t2.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${t2.url}/readyz`)).status).toBe(200);
      // Separate registries: this server's counters are its own.
      expect(value(samples, 'taskwire_events_published_total')).toBe(0);
    } finally {
      await t2.close();
    }
  });
});
