/**
 * The dashboard end to end, in real Chromium (the system /usr/bin/chromium; no skip:
 * a missing binary fails loudly), served by a real taskwire server at `/`:
 *
 * - in-process `createServer` with `dev: true` and the memory engine on port 0: the
 *   page signs in by itself (the dev token), follows tasks driven over the HTTP API
 *   without a reload, approves a task, follows a batch and its children and a stream
 *   growing, fits 390 px, and the test saves the screenshot `docs/dashboard.png`;
 * - across a server restart: e2e-restart.test.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../react/test/helpers/browser.js';
import { killAll } from '../../server/test/helpers/process.js';
import { startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { api, ensureDashboardBuilt, notReloaded, openSignedIn, waitForConnection, waitForRow } from './helpers.js';

const SCREENSHOT = fileURLToPath(new URL('../../../docs/dashboard.png', import.meta.url));

let tmp: string;
let browser: BrowserContext;
let server: TestServer;
const pages: Page[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'taskwire-dashboard-'));
  await ensureDashboardBuilt();
  browser = await launchChromium(path.join(tmp, 'profile'));
  server = await startTestServer({ dev: true });
}, 60_000);

afterAll(async () => {
  for (const page of pages) await page.close().catch(() => undefined);
  await browser?.close();
  await server?.close();
  await killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A page at `url` that signed in by itself (dev token) and is connected; errors in the page fail the test. */
const openDashboard = (url: string, width?: number, height?: number): Promise<{ page: Page; errors: string[] }> =>
  openSignedIn(browser, pages, url, width, height);

describe('the dashboard in Chromium', () => {
  it('signs in by itself on a --dev server and shows a task progressing to done without a reload', async () => {
    const { page, errors } = await openDashboard(server.url);
    await expect(page.locator('.user .badge').textContent()).resolves.toBe('admin');
    await api(server, 'POST', '/tasks', { id: 'live-1', owner: 'alice', title: 'Build the docs' });
    await api(server, 'PATCH', '/tasks/live-1', { progress: 30, stage: 'compile', message: '3 of 10 pages' });
    await waitForRow(page, 'live-1', { status: 'running', progress: '30' });
    await expect(page.locator('li[data-id="live-1"] .cell-detail').textContent()).resolves.toBe(
      'compile · 3 of 10 pages',
    );
    await api(server, 'PATCH', '/tasks/live-1', { progress: 70, stage: 'link' });
    await waitForRow(page, 'live-1', { status: 'running', progress: '70' });
    await api(server, 'PATCH', '/tasks/live-1', { status: 'succeeded', result: { pages: 10 } });
    await waitForRow(page, 'live-1', { status: 'succeeded', progress: '100' });
    await expect(page.locator('li[data-id="live-1"] .pill').textContent()).resolves.toBe('done');
    // Deleted (retention's DELETE): the row goes, from the owner's feed, without a reload.
    await api(server, 'POST', '/tasks', { id: 'gone-1', owner: 'alice', title: 'Throwaway' });
    await api(server, 'POST', '/tasks/gone-1/cancel');
    await waitForRow(page, 'gone-1', { status: 'cancelled' });
    await api(server, 'DELETE', '/tasks/gone-1');
    await page.waitForFunction(() => document.querySelector('li[data-id="gone-1"]') === null, null, {
      timeout: 15_000,
    });
    expect(await notReloaded(page)).toBe('still the same page');
    expect(errors).toEqual([]);
  });

  it('approves an awaiting task from its detail: it moves to running, then done', async () => {
    await api(server, 'POST', '/tasks', { id: 'ask-1', owner: 'bob', title: 'Deploy the site' });
    await api(server, 'PATCH', '/tasks/ask-1', { progress: 90, stage: 'staged' });
    await api(server, 'POST', '/tasks/ask-1/logs', { lines: ['built 42 files', 'staged on canary'] });
    await api(server, 'POST', '/tasks/ask-1/approval', { prompt: 'Deploy to production?' });
    const { page, errors } = await openDashboard(server.url);
    await waitForRow(page, 'ask-1', { status: 'awaiting_approval' });
    // Rows are buttons: reachable and opened with the keyboard.
    await page.focus('li[data-id="ask-1"] button');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.approval .prompt:text("Deploy to production?")');
    expect(await page.evaluate(() => window.location.hash)).toBe('#/tasks/ask-1');
    await page.waitForSelector('.log:has-text("staged on canary")');
    await page.fill('.approval textarea', 'go ahead');
    await page.click('.approval button:text("Approve")');
    await waitForRow(page, 'ask-1', { status: 'running' });
    expect((await server.api('GET', '/tasks/ask-1')).body).toMatchObject({
      status: 'running',
      approval: { decision: 'approve', comment: 'go ahead', decidedBy: 'admin' },
    });
    await page.waitForSelector('.timeline li:has-text("approved by admin")');
    await api(server, 'PATCH', '/tasks/ask-1', { status: 'succeeded' });
    await waitForRow(page, 'ask-1', { status: 'succeeded' });
    await page.waitForSelector('.detail .outcome.succeeded');
    expect(await notReloaded(page)).toBe('still the same page');
    expect(errors).toEqual([]);
  });

  it('follows a batch live: its counts and bar, its children under it and in its detail, its end by them', async () => {
    const { page, errors } = await openDashboard(server.url);
    await api(server, 'POST', '/tasks', {
      id: 'pages',
      owner: 'alice',
      title: 'Generate 3 pages',
      batch: { expectedChildren: 3, completeWhen: 'children' },
    });
    await page.waitForSelector('li.task-row[data-id="pages"][data-batch="true"]');
    const detail = page.locator('li.task-row[data-id="pages"] .cell-detail');
    await expect(detail.textContent()).resolves.toBe('0 / 3 done · 3 to come');
    const child = (n: number): Promise<void> =>
      api(server, 'POST', '/tasks', { id: `page-${n}`, owner: 'alice', title: `Page ${n}`, parentId: 'pages' });
    const toggle = page.locator('li.batch-group[data-parent="pages"] > button');
    await child(1);
    await page.waitForSelector('li.batch-group[data-parent="pages"] > button:text("▸ Show 1 child (3 expected)")');
    await child(2);
    await child(3);
    await waitForRow(page, 'pages', { progress: '0' });
    await page.waitForSelector('li.task-row[data-id="pages"] [role="progressbar"][aria-valuenow="0"]');
    await expect(detail.textContent()).resolves.toBe('0 / 3 done · 3 queued');
    // The children are not rows of their own: they wait behind the toggle.
    expect(await page.locator('li.task-row[data-id="page-1"]').count()).toBe(0);
    await expect(toggle.textContent()).resolves.toBe('▸ Show 3 children');
    await toggle.click();
    await expect(toggle.getAttribute('aria-expanded')).resolves.toBe('true');
    await page.waitForSelector('li.task-row[data-id="page-3"][data-depth="1"]');
    const order = await page
      .locator('li.batch-group[data-parent="pages"] li.task-row')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
    expect(order).toEqual(['page-1', 'page-2', 'page-3']);

    await api(server, 'PATCH', '/tasks/page-1', { progress: 50, stage: 'draft' });
    await waitForRow(page, 'page-1', { status: 'running', progress: '50' });
    await page.waitForSelector('li.task-row[data-id="pages"] [role="progressbar"][aria-valuenow="16.67"]');
    await expect(detail.textContent()).resolves.toMatch(/^0 \/ 3 done · 1 running · 2 queued/);

    // The detail: counts, options in words, every child with its bar, live.
    await page.click('li.task-row[data-id="pages"] > button');
    await page.waitForSelector('.detail .batch li.child[data-id="page-1"][data-progress="50"]');
    await expect(page.locator('.detail .batch-counts').textContent()).resolves.toBe(
      '0 / 3 done · 1 running · 2 queued',
    );
    await expect(page.locator('.detail .batch-options').textContent()).resolves.toContain('ends by itself');
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await page.click('.detail button:text("Cancel task")');
    await expect.poll(() => asked).toBe('Cancel task pages? It also cancels its 3 unfinished children.');

    await api(server, 'PATCH', '/tasks/page-1', { status: 'succeeded' });
    await api(server, 'PATCH', '/tasks/page-2', {
      status: 'failed',
      error: { message: 'no source', code: 'fact_check' },
    });
    await api(server, 'PATCH', '/tasks/page-3', { progress: 50 });
    await page.waitForSelector('li.task-row[data-id="pages"] [role="progressbar"][aria-valuenow="83.33"]');
    await page.waitForSelector('.detail .batch li.child[data-id="page-2"][data-status="failed"]');
    await waitForRow(page, 'page-2', { status: 'failed' });
    await api(server, 'PATCH', '/tasks/page-3', { status: 'succeeded' });
    await waitForRow(page, 'pages', { status: 'failed', progress: '100' });
    await page.waitForSelector('li.task-row[data-id="pages"] [role="progressbar"][aria-valuenow="100"]');
    await expect(detail.textContent()).resolves.toBe('2 / 3 done · 1 failed · 1 of 3 children failed');
    await page.waitForSelector('.detail .outcome.failed:has-text("children_failed")');
    await page.waitForSelector('.detail .timeline li.tl-child:has-text("Page 2 → failed")');
    // Filters: only children match, so the batch shows them alone, open by itself.
    await page.click('.detail button:text("← Back to tasks")');
    await page.selectOption('.filters select >> nth=0', 'succeeded');
    await waitForRow(page, 'page-3', { status: 'succeeded' });
    expect(await page.locator('li.task-row[data-id="page-2"]').count()).toBe(0);
    await expect(toggle.textContent()).resolves.toBe('▾ Hide 2 of 3 children matching the filters');
    await page.selectOption('.filters select >> nth=0', 'all');
    await page.click('li.task-row[data-id="pages"] > button');
    // Links: child → parent and back.
    await page.click('.detail .batch li.child[data-id="page-2"] a');
    await page.waitForSelector('.detail[data-id="page-2"] .part-of a:text("Generate 3 pages")');
    await expect(page.locator('.detail .part-of').textContent()).resolves.toContain('2 / 3 done · 1 failed');
    await page.click('.detail .part-of a');
    await page.waitForSelector('.detail[data-id="pages"] .batch');
    expect(await page.evaluate(() => window.location.hash)).toBe('#/tasks/pages');
    expect(await notReloaded(page)).toBe('still the same page');
    expect(errors).toEqual([]);
  });

  it('shows a stream growing live in the task detail, whole from any moment of opening', async () => {
    await api(server, 'POST', '/tasks', { id: 'notes', owner: 'carol', title: 'Draft the release notes' });
    const { page, errors } = await openDashboard(server.url);
    await page.goto(`${server.url}/#/tasks/notes`);
    await page.waitForSelector('.detail[data-id="notes"] .facts');
    await page.evaluate(() => {
      (window as unknown as { __loaded: string }).__loaded = 'still the same page';
    });
    const chunks = Array.from({ length: 120 }, (_, i) =>
      i % 10 === 9 ? `line ${i} ✓ done\n` : `word ${i} and a few more `,
    );
    const append = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) await api(server, 'POST', '/tasks/notes/stream', { text: chunks[i] });
    };
    const shown = (p: Page): Promise<string | null> => p.locator('.stream[data-stream="output"] pre').textContent();
    await append(0, 5);
    await page.waitForSelector('.stream[data-stream="output"][data-chunks="5"]');
    expect(await shown(page)).toBe(chunks.slice(0, 5).join(''));
    await api(server, 'PATCH', '/tasks/notes', { progress: 40, stage: 'write' });
    await append(5, 60);
    // A second page opened halfway shows the whole text so far, then follows.
    const late = await openDashboard(server.url);
    await late.page.goto(`${server.url}/#/tasks/notes`);
    await late.page.waitForSelector('.stream[data-stream="output"][data-chunks="60"]');
    expect(await shown(late.page)).toBe(chunks.slice(0, 60).join(''));
    await append(60, 120);
    await api(server, 'PATCH', '/tasks/notes', { status: 'succeeded' });
    const full = (await server.api<{ text: string; chunks: number }>('GET', '/tasks/notes/streams/output')).body;
    expect(full).toMatchObject({ text: chunks.join(''), chunks: 120 });
    for (const p of [page, late.page]) {
      await p.waitForSelector('.stream[data-stream="output"][data-chunks="120"][data-done="true"]');
      expect(await shown(p)).toBe(full.text);
      await expect(p.locator('.stream .stream-size').textContent()).resolves.toBe(
        `${(new TextEncoder().encode(full.text).length / 1024).toFixed(1)} KB`,
      );
    }
    // Scrolled to the end while the reader was at the end.
    const scroll = await page.locator('.stream pre').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    expect(scroll).toBeLessThan(24);
    expect(await notReloaded(page)).toBe('still the same page');
    expect([...errors, ...late.errors]).toEqual([]);
  });

  it('draws only the tail of a long stream, with a note, and downloads the whole text', async () => {
    await api(server, 'POST', '/tasks', { id: 'big-log', owner: 'carol', title: 'Write a long transcript' });
    const lines = (from: number): string =>
      Array.from({ length: 700 }, (_, i) => `${String(from + i).padStart(5, '0')} ${'x'.repeat(50)}\n`).join('');
    for (const from of [0, 700]) await api(server, 'POST', '/tasks/big-log/stream', { text: lines(from) });
    const { page, errors } = await openDashboard(server.url);
    await page.goto(`${server.url}/#/tasks/big-log`);
    await page.waitForSelector('.stream[data-stream="output"][data-chunks="2"] .stream-note');
    const full = lines(0) + lines(700);
    const shown = (await page.locator('.stream pre').textContent()) ?? '';
    expect(shown.length).toBeLessThanOrEqual(64 * 1024);
    expect(full.endsWith(shown)).toBe(true);
    expect(shown).toMatch(/^\d{5} x/);
    await expect(page.locator('.stream-note').textContent()).resolves.toMatch(
      /^Showing the last 6\d\.\d KB of 77\.9 KB\./,
    );
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('.stream-note button:text("Download the full text")'),
    ]);
    expect(download.suggestedFilename()).toBe('big-log-output.txt');
    const file = path.join(tmp, 'big-log.txt');
    await download.saveAs(file);
    expect(await readFile(file, 'utf8')).toBe(full);
    expect(errors).toEqual([]);
  });

  it('signs in with a pasted user token: the user sees only their own tasks, live, and no admin views', async () => {
    const { page, errors } = await openDashboard(server.url);
    await page.click('button:text("Sign out")');
    await page.waitForSelector('.sign-in [role="status"]:text("Signed out.")');
    await page.fill('.sign-in textarea', await server.token({ sub: 'alice' }));
    await page.click('.sign-in button[type="submit"]');
    await waitForConnection(page, 'connected');
    await waitForRow(page, 'live-1', { status: 'succeeded' });
    expect(await page.locator('li[data-id="ask-1"]').count()).toBe(0);
    // Alice's batch is one row; its children open under it.
    await waitForRow(page, 'pages', { status: 'failed' });
    await page.click('li.batch-group[data-parent="pages"] > button');
    await waitForRow(page, 'page-2', { status: 'failed' });
    expect(await page.locator('li[data-id="notes"]').count()).toBe(0);
    expect(await page.locator('nav a').allTextContents()).toEqual(['Tasks']);
    expect(await page.locator('.user .badge').count()).toBe(0);
    await api(server, 'POST', '/tasks', { id: 'alice-2', owner: 'alice', title: 'Second report' });
    await waitForRow(page, 'alice-2', { status: 'queued' }, 5_000);
    expect(await notReloaded(page)).toBe('still the same page');
    expect(errors).toEqual([]);
  });

  it('shows the task list at 390 px wide without horizontal scrolling', async () => {
    const { page } = await openDashboard(server.url, 390, 844);
    await waitForRow(page, 'live-1', {});
    await page.click('li.batch-group[data-parent="pages"] > button');
    await waitForRow(page, 'page-3', {});
    const widths = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      inner: window.innerWidth,
      rows: Array.from(document.querySelectorAll('li.task-row'), (r) => r.getBoundingClientRect().right),
    }));
    expect(widths.inner).toBe(390);
    expect(widths.scroll).toBeLessThanOrEqual(390);
    expect(widths.rows.length).toBeGreaterThan(0);
    for (const right of widths.rows) expect(right).toBeLessThanOrEqual(390);
  });

  it('saves a screenshot of the task list at 1280 px (docs/dashboard.png)', async () => {
    const shot = await startTestServer({ dev: true, stallSweepMs: 200 });
    try {
      const put = (p: string, body: unknown): Promise<void> => api(shot, 'PATCH', p, body);
      const create = (id: string, owner: string, title: string, extra: Record<string, unknown> = {}): Promise<void> =>
        api(shot, 'POST', '/tasks', { id, owner, title, ...extra });
      await create('import-customers', 'bob', 'Import customers-2026-11.csv');
      await put('/tasks/import-customers', { progress: 41, stage: 'validate' });
      await put('/tasks/import-customers', { status: 'failed', error: 'row 1,204: invalid email address' });
      await create('resize-images', 'alice', 'Resize product images');
      await put('/tasks/resize-images', { progress: 80, stage: 'thumbnails' });
      await put('/tasks/resize-images', { status: 'succeeded', result: { images: 1840 } });
      await create('transcode-8812', 'carol', 'Transcode video #8812', { stallTimeoutMs: 1000 });
      await put('/tasks/transcode-8812', { progress: 23, stage: 'encode', message: '1080p pass 1 of 2' });
      await create('train-ranker', 'dave', 'Train ranking model');
      await create('deploy-web', 'carol', 'Deploy web-frontend v2.14');
      await put('/tasks/deploy-web', { progress: 90, stage: 'canary', message: 'canary healthy for 10 min' });
      await api(shot, 'POST', '/tasks/deploy-web/approval', { prompt: 'Promote v2.14 to production?' });
      await create('nightly-backup', 'bob', 'Nightly backup');
      await put('/tasks/nightly-backup', { progress: 38, stage: 'upload', message: '1.9 of 5.0 GB' });
      await create('q3-roadmap', 'alice', 'Generate Q3 roadmap');
      await put('/tasks/q3-roadmap', { progress: 64, stage: 'outline', message: '5 of 8 sections' });
      await create('concept-pages', 'alice', 'Generate 12 concept pages', {
        batch: { expectedChildren: 12, completeWhen: 'children' },
      });
      const pages = ['Onboarding', 'Billing', 'Search'];
      for (const [i, topic] of pages.entries())
        await create(`concept-page-${i + 1}`, 'alice', `Concept page ${i + 1}: ${topic}`, {
          parentId: 'concept-pages',
        });
      await put('/tasks/concept-pages', { stage: 'generate', message: '3 of 12 pages started' });
      for (const done of ['/tasks/concept-page-1', '/tasks/concept-page-2']) {
        await put(done, { progress: 90, stage: 'review' });
        await put(done, { status: 'succeeded' });
      }
      await put('/tasks/concept-page-3', { progress: 70, stage: 'review', message: '6 of 9 claims checked' });
      const { page, errors } = await openDashboard(shot.url, 1280, 720);
      await waitForRow(page, 'transcode-8812', { status: 'stalled' });
      await waitForRow(page, 'q3-roadmap', { progress: '64' });
      await page.click('li.batch-group[data-parent="concept-pages"] > button');
      await waitForRow(page, 'concept-page-3', { progress: '70' });
      await page.click('li[data-id="deploy-web"] button');
      await page.waitForSelector('.approval button:text("Approve")');
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.mouse.move(700, 40);
      await page.screenshot({ path: SCREENSHOT });
      expect(errors).toEqual([]);
    } finally {
      await shot.close();
    }
  });
});
