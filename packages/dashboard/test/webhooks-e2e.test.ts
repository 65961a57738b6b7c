/**
 * The dashboard's Webhooks view end to end, in real Chromium (the system
 * /usr/bin/chromium), against a real taskwire server (`dev: true`, memory engine,
 * port 0) that sends its webhooks to a real receiver on 127.0.0.1 with a short retry
 * schedule:
 *
 * - the receiver refuses (500): the message fails, the view shows it with its
 *   attempts, the navigation counts it, its endpoint without the query string;
 * - the receiver answers 200, Retry: the message leaves Failed and shows as delivered;
 * - a retry the server refuses (409, the message is no longer failed) shows the
 *   catalogue's message;
 * - a user token sees the "needs an admin token" note.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../react/test/helpers/browser.js';
import { startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { createApi, type WebhookMessage } from '../src/api.js';
import { readTop } from '../src/use-webhooks.js';
import { ensureDashboardBuilt, waitForConnection } from './helpers.js';

const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
/** In the endpoint's query string: must never reach the page. */
const QUERY_SECRET = 'q-s3cret-do-not-show';

let tmp: string;
let browser: BrowserContext;
let server: TestServer;
let receiver: Server;
let answer = 500;
const got: string[] = [];
const pages: Page[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'taskwire-dashboard-hooks-'));
  await ensureDashboardBuilt();
  browser = await launchChromium(path.join(tmp, 'profile'));
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      got.push(String(req.headers['webhook-id']));
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as { port: number };
  server = await startTestServer({
    dev: true,
    webhookUrls: `http://127.0.0.1:${port}/hooks/in?token=${QUERY_SECRET}`,
    webhookSecret: SECRET,
    webhookRetrySchedule: '100ms,100ms',
    webhookTimeoutMs: 1_000,
  });
}, 60_000);

afterAll(async () => {
  for (const page of pages) await page.close().catch(() => undefined);
  await browser?.close();
  await server?.close();
  if (receiver) {
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function openDashboard(hash = ''): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  pages.push(page);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${server.url}/${hash}`);
  await waitForConnection(page, 'connected');
  return { page, errors };
}

async function ok(method: string, p: string, body?: unknown): Promise<void> {
  const res = await server.api(method, p, body);
  expect(res.status, `${method} ${p}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
}

/** A task that ends (one `task.succeeded` message), then that message once it has `status` (bounded wait). */
async function messageOf(taskId: string, status: WebhookMessage['status']): Promise<WebhookMessage> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await server.api<{ messages: WebhookMessage[] }>('GET', `/webhooks/messages?status=${status}`);
    const m = res.body.messages.find((x) => x.taskId === taskId);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no ${status} message for ${taskId}: ${JSON.stringify(res.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function finish(taskId: string): Promise<void> {
  await ok('POST', '/tasks', { id: taskId, owner: 'alice', title: `Report ${taskId}` });
  await ok('PATCH', `/tasks/${taskId}`, { progress: 50 });
  await ok('PATCH', `/tasks/${taskId}`, { status: 'succeeded' });
}

const row = (id: string, status: string): string => `li.hook-row[data-id="${id}"][data-status="${status}"]`;

describe('the Webhooks view in Chromium', () => {
  it('shows a failed message with its attempts, retries it when the receiver answers again: delivered', async () => {
    answer = 500;
    await finish('hook-1');
    const failed = await messageOf('hook-1', 'failed');
    expect(failed.attempts.map((a) => a.status)).toEqual([500, 500, 500]);

    const { page, errors } = await openDashboard();
    expect(await page.locator('nav[aria-label="views"] a').allTextContents()).toEqual([
      'Tasks',
      'Stats',
      'Channels',
      'Webhooks1 failed',
    ]);
    await page.click('nav[aria-label="views"] a:has-text("Webhooks")');
    await page.waitForSelector(row(failed.id, 'failed'));
    expect(await page.evaluate(() => window.location.hash)).toBe('#/webhooks');
    await expect(page.locator('.tabs a[aria-current="page"]').textContent()).resolves.toBe('Failed');
    const r = page.locator(row(failed.id, 'failed'));
    await expect(r.locator('.hook-type').textContent()).resolves.toBe('task.succeeded');
    await expect(r.locator('.hook-endpoint').textContent()).resolves.toMatch(/^127\.0\.0\.1:\d+\/hooks\/in$/);
    await expect(r.locator('.hook-attempts').textContent()).resolves.toBe('3 attempts · last HTTP 500');
    await expect(r.locator('a.hook-task').getAttribute('href')).resolves.toBe('#/tasks/hook-1');
    // The endpoint's query string may hold a secret: it is nowhere in the page.
    expect(await page.content()).not.toContain(QUERY_SECRET);

    // Expanded: every attempt.
    await r.locator('.hook-toggle').click();
    await expect(r.locator('.hook-toggle').getAttribute('aria-expanded')).resolves.toBe('true');
    const attempts = await r.locator('.attempts li').allTextContents();
    expect(attempts).toHaveLength(3);
    for (const text of attempts) expect(text).toMatch(/HTTP 500$/);

    // At 390 px the row wraps: no horizontal scrolling.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 800 });
    // The receiver is back: Retry.
    answer = 200;
    await r.locator('button.hook-retry').click();
    await page.waitForSelector(`[role="status"]:has-text("${failed.id} is pending again")`);
    await page.waitForSelector(row(failed.id, 'failed'), { state: 'detached', timeout: 10_000 });
    await page.waitForSelector('.empty:has-text("No failed messages")');
    await page.waitForSelector('nav[aria-label="views"] .failed-count', { state: 'detached', timeout: 15_000 });
    await page.click('.tabs a:text("Delivered")');
    expect(await page.evaluate(() => window.location.hash)).toBe('#/webhooks/delivered');
    await page.waitForSelector(row(failed.id, 'delivered'), { timeout: 10_000 });
    await expect(page.locator(`${row(failed.id, 'delivered')} .hook-attempts`).textContent()).resolves.toBe(
      '4 attempts · last HTTP 200',
    );
    const delivered = await messageOf('hook-1', 'delivered');
    expect(delivered.id).toBe(failed.id);
    expect(got.filter((id) => id === failed.id)).toHaveLength(4);
    expect(errors).toEqual([]);
  });

  it('shows the catalogue message when the server refuses a retry (409: no longer failed)', async () => {
    answer = 500;
    await finish('hook-2');
    const failed = await messageOf('hook-2', 'failed');
    const page = await browser.newPage();
    pages.push(page);
    // Page timers under the test's control: the list is not read again between the two retries.
    await page.clock.install();
    await page.goto(`${server.url}/#/webhooks`);
    await waitForConnection(page, 'connected');
    await page.waitForSelector(row(failed.id, 'failed'));
    await page.clock.pauseAt(Date.now() + 50);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a read under way when the clock stopped lands
    answer = 200;
    await ok('POST', `/webhooks/messages/${failed.id}/retry`);
    await page.locator(`${row(failed.id, 'failed')} button.hook-retry`).click();
    const alert = page.locator('[role="alert"]:has-text("Retry refused")');
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toMatch(
      new RegExp(`^Retry refused: conflict: webhook message ${failed.id} is (pending|delivered); only a failed one`),
    );
    // After the action the list is read again: the message has left Failed.
    await page.waitForSelector(row(failed.id, 'failed'), { state: 'detached', timeout: 10_000 });
    await page.clock.resume();
  });

  it('reads the newest messages page by page, following nextCursor (what Load more and every refresh do)', async () => {
    const api = createApi(`${server.url}/api/v1`, () => server.apiKey);
    const signal = new AbortController().signal;
    const all = (await api.webhooks({ status: 'delivered' })).messages.map((m) => m.id);
    expect(all).toHaveLength(2);
    const one = await readTop(api, 'delivered', 1, signal);
    expect({ ids: one.messages.map((m) => m.id), more: one.more }).toEqual({ ids: all.slice(0, 1), more: true });
    const paged = await readTop(api, 'delivered', 5, signal, 1);
    expect({ ids: paged.messages.map((m) => m.id), more: paged.more }).toEqual({ ids: all, more: false });
  });

  it('tells a user token that the outbox needs an admin token', async () => {
    const { page, errors } = await openDashboard();
    await page.click('button:text("Sign out")');
    await page.fill('.sign-in textarea', await server.token({ sub: 'alice' }));
    await page.click('.sign-in button[type="submit"]');
    await waitForConnection(page, 'connected');
    expect(await page.locator('nav[aria-label="views"] a').allTextContents()).toEqual(['Tasks']);
    await page.evaluate(() => {
      window.location.hash = '#/webhooks';
    });
    const note = page.locator('.webhooks [role="note"]');
    await expect(note.textContent()).resolves.toMatch(/needs an admin token/);
    expect(await page.locator('.webhooks [role="alert"]').count()).toBe(0);
    expect(await page.locator('.hook-list').count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
