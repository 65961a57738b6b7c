/**
 * @taskwire/react in real Chromium against the real server (failure mode 9: one
 * socket per user, StrictMode included). The page (test/browser/) runs under
 * <StrictMode> in React's development build; its WebSocket goes through a TCP proxy
 * that counts connections and can cut them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type TestProxy } from '../../client/test/helpers/proxy.js';
import { waitFor } from '../../client/test/helpers/wait.js';
import { startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { launchChromium } from './helpers/browser.js';
import { buildPage, serveDir, type StaticServer } from './helpers/page.js';

const WAIT = { timeout: 20_000 };
let tmp: string;
let server: TestServer;
let site: StaticServer;
let browser: BrowserContext;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'taskwire-react-'));
  browser = await launchChromium(path.join(tmp, 'profile'));
  await buildPage(path.join(tmp, 'site'));
  site = await serveDir(path.join(tmp, 'site'));
  server = await startTestServer();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  proxy: TestProxy;
  close: () => Promise<void>;
}

/** A task for alice and a page following it through a fresh proxy. */
async function openPage(taskId: string, n: number): Promise<Opened> {
  expect((await server.api('POST', '/tasks', { id: taskId, owner: 'alice', title: taskId })).status).toBe(201);
  const proxy = await startProxy(Number(new URL(server.url).port));
  const query = new URLSearchParams({
    ws: `ws://127.0.0.1:${proxy.port}/api/v1/ws`,
    token: await server.token({ sub: 'alice' }),
    task: taskId,
    n: String(n),
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${site.url}/index.html?${query.toString()}`);
  await page.waitForFunction(
    (count) =>
      document.querySelector('#connection')?.getAttribute('data-state') === 'connected' &&
      document.querySelector('#feed')?.getAttribute('data-state') === 'subscribed' &&
      document.querySelectorAll('.bar[data-state="subscribed"]').length === count,
    n,
    WAIT,
  );
  expect(errors).toEqual([]);
  // The previous test's page is closed: from here on the server sees this page only.
  await waitFor('one WebSocket connection on the server', () => server.server.stats().connectionsByTransport.ws === 1);
  return {
    page,
    proxy,
    close: async () => {
      await page.close();
      await proxy.close();
    },
  };
}

const update = async (id: string, body: Record<string, unknown>): Promise<void> => {
  expect((await server.api('PATCH', `/tasks/${id}`, body)).status).toBe(200);
};

/** Waits until every one of the `n` bars shows `progress`. */
function barsShow(page: Page, progress: number, n: number): Promise<unknown> {
  return page.waitForFunction(
    ({ progress, n }) =>
      Array.from(document.querySelectorAll('.bar')).filter((b) => b.getAttribute('data-progress') === String(progress))
        .length === n,
    { progress, n },
    WAIT,
  );
}

/** What the page exposes on window (see test/browser/index.html and app.tsx). */
interface Marked {
  __loadMarker: string;
  __sockets: string[];
  __mounts: number;
  __show: (shown: boolean) => void;
}

const sockets = (page: Page): Promise<number> => page.evaluate(() => (window as unknown as Marked).__sockets.length);

/** The event counter: events seen on the task channel, gaps and duplicates among their offsets, the last offset. */
const events = (page: Page): Promise<{ count: number; gaps: number; dups: number; offset: number }> =>
  page.$eval('#events', (el) => ({
    count: Number(el.getAttribute('data-count')),
    gaps: Number(el.getAttribute('data-gaps')),
    dups: Number(el.getAttribute('data-dups')),
    offset: Number(el.getAttribute('data-offset')),
  }));

describe('@taskwire/react in Chromium', () => {
  it('20 components under StrictMode following one task open exactly one WebSocket and all show the progress', async () => {
    const { page, proxy, close } = await openPage('strict-20', 20);
    try {
      for (const progress of [10, 40, 70]) {
        await update('strict-20', { status: 'running', progress });
        await barsShow(page, progress, 20);
      }
      await update('strict-20', { status: 'succeeded', progress: 100 });
      await barsShow(page, 100, 20);
      expect(await page.$$eval('.bar[data-status="succeeded"]', (bars) => bars.length)).toBe(20);
      expect(await events(page)).toMatchObject({ count: 4, gaps: 0, dups: 0 });
      // StrictMode really double-mounted: every component's effects ran twice.
      expect(await page.evaluate(() => (window as unknown as Marked).__mounts)).toBe(2 * 20);
      // One socket, counted in the page, at the proxy and on the server.
      expect(await sockets(page)).toBe(1);
      expect(proxy.accepted).toBe(1);
      expect(server.server.stats().connectionsByTransport.ws).toBe(1);
      // One server subscription per channel: the task's (shared by 21 hooks) and the feed.
      expect(server.server.stats().subscriptions).toBe(2);
      expect(await page.$eval('#feed', (el) => el.getAttribute('data-ids'))).toBe('strict-20');
    } finally {
      await close();
    }
  });

  it('unmounting the last component on a task ends its server subscription; mounting again resumes; one socket', async () => {
    await server.api('POST', '/tasks', { id: 'unmount-other', owner: 'alice' }); // in the feed's history
    const { page, proxy, close } = await openPage('unmount', 10);
    try {
      expect(server.server.stats().subscriptions).toBe(2);
      await page.evaluate(() => (window as unknown as Marked).__show(false));
      await waitFor('the task subscription to end', () => server.server.stats().subscriptions === 1);
      await update('unmount', { status: 'running', progress: 50 });
      await page.evaluate(() => (window as unknown as Marked).__show(true));
      await barsShow(page, 50, 10); // the snapshot, on a fresh subscribe
      expect(server.server.stats().subscriptions).toBe(2);
      // A useTasks() mounted while another holds the feed lists every task the first one does.
      const ids = (sel: string): Promise<string | null> => page.$eval(sel, (el) => el.getAttribute('data-ids'));
      expect((await ids('#feed'))?.split(',')).toEqual(expect.arrayContaining(['unmount', 'unmount-other']));
      expect(await ids('#feed-late')).toBe(await ids('#feed'));
      expect(await sockets(page)).toBe(1);
      expect(proxy.accepted).toBe(1);
    } finally {
      await close();
    }
  });

  it('useTaskStream shows the stream growing, and whole across a cut connection, on the same socket', async () => {
    const { page, proxy, close } = await openPage('streamed', 1);
    try {
      const chunk = (i: number): string => `line ${i} ✓\n`;
      const append = async (i: number): Promise<void> => {
        const res = await server.api('POST', '/tasks/streamed/stream', { text: chunk(i), index: i });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
      };
      await update('streamed', { progress: 10 });
      for (let i = 0; i < 20; i++) await append(i);
      await page.waitForFunction(
        () => document.querySelector('#output')?.getAttribute('data-chunks') === '20',
        null,
        WAIT,
      );
      proxy.cutAll();
      for (let i = 20; i < 60; i++) await append(i);
      await update('streamed', { status: 'succeeded' });
      await page.waitForFunction(
        () => document.querySelector('#output')?.getAttribute('data-done') === 'true',
        null,
        WAIT,
      );
      const whole = await server.api<{ text: string; chunks: number }>('GET', '/tasks/streamed/streams/output');
      expect(whole.body.chunks).toBe(60);
      expect(await page.$eval('#output', (el) => el.textContent)).toBe(whole.body.text);
      expect(server.server.stats().connectionsByTransport.ws).toBe(1);
    } finally {
      await close();
    }
  });

  it('goes offline and online and recovers every missed event without a page reload', async () => {
    const { page, proxy, close } = await openPage('offline', 5);
    const marker = await page.evaluate(() => (window as unknown as Marked).__loadMarker);
    try {
      for (let p = 1; p <= 5; p++) await update('offline', { status: 'running', progress: p });
      await barsShow(page, 5, 5);
      const before = await sockets(page);

      // Offline: the browser fires `offline` (the client drops its socket), the proxy cuts
      // what is left, and Chromium refuses new connections while offline.
      await browser.setOffline(true);
      proxy.cutAll();
      await page.waitForFunction(
        () => document.querySelector('#connection')?.getAttribute('data-state') === 'connecting',
        null,
        WAIT,
      );
      const acceptedOffline = proxy.accepted;
      for (let p = 6; p <= 30; p++) await update('offline', { status: 'running', progress: p });
      // The client retried (a new WebSocket) and nothing got through.
      await page.waitForFunction((n) => (window as unknown as Marked).__sockets.length > n, before, WAIT);
      expect(proxy.accepted).toBe(acceptedOffline);
      expect((await events(page)).count).toBe(5);

      await browser.setOffline(false);
      await barsShow(page, 30, 5);
      await update('offline', { status: 'succeeded', progress: 100 });
      await barsShow(page, 100, 5);

      // Every missed event exactly once, in order, and the server's final snapshot.
      const history = await server.api<{ offset: number }>('GET', '/channels/task:offline/history?limit=0');
      expect(await events(page)).toEqual({ count: 31, gaps: 0, dups: 0, offset: history.body.offset });
      const final = await server.api<{ version: number }>('GET', '/tasks/offline');
      const shown = await page.$$eval('.bar', (bars) =>
        bars.map((b) => `${b.getAttribute('data-status')} v${b.getAttribute('data-version')}`),
      );
      expect(shown).toEqual(Array(5).fill(`succeeded v${final.body.version}`));
      // One live connection again, and the same page load: no reload happened.
      expect(server.server.stats().connectionsByTransport.ws).toBe(1);
      expect(proxy.live).toBe(1);
      expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(1);
      expect(await page.evaluate(() => (window as unknown as Marked).__loadMarker)).toBe(marker);
    } finally {
      await browser.setOffline(false);
      await close();
    }
  });
});
