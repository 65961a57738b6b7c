/**
 * The dashboard's pure helpers: durations and the ETA, token claims, hash routes, the
 * chart's scale, and the Webhooks view's words (endpoints without secrets, attempts).
 */
import type { Task } from '@taskwire/client';
import { describe, expect, it } from 'vitest';
import { niceMax } from '../src/chart.js';
import { elapsedMs, etaMs, formatDuration } from '../src/format.js';
import { parseRoute, routeHref } from '../src/route.js';
import { readToken } from '../src/session.js';
import type { WebhookMessage } from '../src/api.js';
import { attemptText, attemptsSummary, countBadge, nextText, redactEndpoint } from '../src/webhook-format.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const task = (patch: Partial<Task>): Task => ({
  id: 't',
  owner: 'alice',
  title: null,
  status: 'running',
  progress: null,
  stage: null,
  message: null,
  result: null,
  error: null,
  approval: null,
  meta: {},
  stallTimeoutMs: 60_000,
  createdAt: new Date(T0 - 5_000).toISOString(),
  updatedAt: new Date(T0).toISOString(),
  startedAt: new Date(T0).toISOString(),
  finishedAt: null,
  version: 2,
  parentId: null,
  batch: null,
  children: null,
  tags: [],
  streams: {},
  ...patch,
});

const b64url = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims: unknown): string => `${b64url({ alg: 'HS256' })}.${b64url(claims)}.sig`;

describe('durations and the rough ETA', () => {
  it('formats durations from seconds to days', () => {
    expect([0, 42_000, 185_000, 7_800_000, 273_600_000].map(formatDuration)).toEqual([
      '0s',
      '42s',
      '3m 05s',
      '2h 10m',
      '3d 4h',
    ]);
  });

  it('measures elapsed time from the start (or creation) to the end, or to now', () => {
    expect(elapsedMs(task({}), T0 + 30_000)).toBe(30_000);
    expect(elapsedMs(task({ startedAt: null, status: 'queued' }), T0)).toBe(5_000);
    expect(elapsedMs(task({ finishedAt: new Date(T0 + 9_000).toISOString() }), T0 + 60_000)).toBe(9_000);
  });

  it('extrapolates the average rate since the start, only for a running task with some progress', () => {
    expect(etaMs(task({ progress: 25 }), T0 + 60_000)).toBe(180_000);
    expect(etaMs(task({ progress: 50 }), T0 + 10_000)).toBe(10_000);
    for (const t of [
      task({ progress: null }),
      task({ progress: 0 }),
      task({ progress: 100 }),
      task({ progress: 40, status: 'stalled' }),
      task({ progress: 40, startedAt: null }),
    ]) {
      expect(etaMs(t, T0 + 10_000)).toBeNull();
    }
  });
});

describe('readToken', () => {
  it('reads sub, admin and exp without verifying', () => {
    expect(readToken(jwt({ sub: 'alice', exp: 1_900_000_000 }))).toEqual({
      token: jwt({ sub: 'alice', exp: 1_900_000_000 }),
      user: 'alice',
      admin: false,
      exp: 1_900_000_000,
      dev: false,
    });
    expect(readToken(` ${jwt({ sub: 'root', admin: true })}\n`, true)).toMatchObject({
      user: 'root',
      admin: true,
      dev: true,
    });
  });

  it('says why a paste is not a usable token', () => {
    expect(readToken('hello')).toMatch(/not a JWT/);
    expect(readToken('a.%%%.c')).toMatch(/not readable/);
    expect(readToken(jwt({ admin: true }))).toMatch(/no `sub`/);
  });
});

describe('hash routes', () => {
  it('parses and builds the views', () => {
    expect(parseRoute('')).toEqual({ view: 'tasks', taskId: null });
    expect(parseRoute('#/stats')).toEqual({ view: 'stats' });
    expect(parseRoute('#/channels')).toEqual({ view: 'channels' });
    expect(parseRoute('#/tasks/build%2F42')).toEqual({ view: 'tasks', taskId: 'build/42' });
    expect(parseRoute('#/nonsense')).toEqual({ view: 'tasks', taskId: null });
    expect(parseRoute('#/webhooks')).toEqual({ view: 'webhooks', status: 'failed' });
    expect(parseRoute('#/webhooks/pending')).toEqual({ view: 'webhooks', status: 'pending' });
    expect(parseRoute('#/webhooks/bogus')).toEqual({ view: 'webhooks', status: 'failed' });
    expect(routeHref({ view: 'webhooks', status: 'failed' })).toBe('#/webhooks');
    for (const r of [
      { view: 'tasks', taskId: 'a@b.c' },
      { view: 'tasks', taskId: null },
      { view: 'stats' },
      { view: 'webhooks', status: 'failed' },
      { view: 'webhooks', status: 'delivered' },
    ] as const) {
      expect(parseRoute(routeHref(r))).toEqual(r);
    }
  });
});

describe('the chart scale', () => {
  it('rounds the maximum up to 1, 2 or 5 × 10^n', () => {
    expect([0, 0.3, 1, 1.1, 3, 7, 12, 480, 501].map(niceMax)).toEqual([1, 0.5, 1, 2, 5, 10, 20, 500, 1000]);
  });
});

const message = (patch: Partial<WebhookMessage>): WebhookMessage => ({
  id: 'msg_1',
  type: 'task.failed',
  taskId: 't',
  endpoint: 'https://hooks.example.com/in',
  status: 'pending',
  createdAt: new Date(T0).toISOString(),
  nextAt: new Date(T0 + 65_000).toISOString(),
  attempts: [],
  ...patch,
});

describe('the Webhooks view’s words', () => {
  it('shows an endpoint as host and path, never its query string, fragment or user info', () => {
    expect(redactEndpoint('https://hooks.example.com/in?token=s3cret#frag')).toBe('hooks.example.com/in');
    expect(redactEndpoint('https://ops:pw@hooks.example.com:8443/a/b?x=1')).toBe('hooks.example.com:8443/a/b');
    expect(redactEndpoint('http://127.0.0.1:9000/?k=v')).toBe('127.0.0.1:9000');
    expect(redactEndpoint('http://127.0.0.1:9000/hooks')).toBe('127.0.0.1:9000/hooks');
    // Not a URL at all: still cut at the query and past any user info.
    expect(redactEndpoint('weird://u:p@host path?secret=1')).not.toContain('secret');
    expect(redactEndpoint('no scheme/x?secret=1')).toBe('no scheme/x');
  });

  it('says what each attempt got, and sums them up', () => {
    expect(attemptText({ at: '', status: 500 })).toBe('HTTP 500');
    expect(attemptText({ at: '', status: null, error: 'timeout' })).toBe('no answer: timeout');
    expect(attemptText({ at: '', status: 503, error: 'Retry-After 30 s' })).toBe('HTTP 503: Retry-After 30 s');
    expect(attemptsSummary(message({}))).toBe('not tried yet');
    expect(attemptsSummary(message({ attempts: [{ at: '', status: 200 }] }))).toBe('1 attempt · HTTP 200');
    expect(
      attemptsSummary(
        message({
          attempts: [
            { at: '', status: null, error: 'ECONNREFUSED' },
            { at: '', status: 500 },
          ],
        }),
      ),
    ).toBe('2 attempts · last HTTP 500');
  });

  it('says when a pending message is due, and nothing for the others', () => {
    expect(nextText(message({}), T0)).toBe('in 1m 05s');
    expect(nextText(message({}), T0 + 65_000)).toBe('due now');
    expect(nextText(message({}), T0 + 99_000)).toBe('due now');
    expect(nextText(message({ status: 'failed', nextAt: null }), T0)).toBeNull();
    expect(nextText(message({ status: 'delivered' }), T0)).toBeNull();
  });

  it('counts the failed messages for the badge, with a + when the page was full', () => {
    expect(countBadge(0, false)).toBeNull();
    expect(countBadge(3, false)).toBe('3');
    expect(countBadge(100, true)).toBe('100+');
  });
});
