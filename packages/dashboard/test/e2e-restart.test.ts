/**
 * The dashboard across a server restart, in real Chromium: the memory engine's
 * restart shows the resync banner (the gap cannot be replayed); the CLI `serve --dev`
 * on SQLite, SIGKILLed and restarted on a fixed port, shows reconnecting, then
 * catches up without a reload.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../react/test/helpers/browser.js';
import { freePort, killAll, startServe, type ServeProcess } from '../../server/test/helpers/process.js';
import { startTestServer } from '../../server/test/helpers/server.js';
import { api, ensureDashboardBuilt, notReloaded, openSignedIn, waitForConnection, waitForRow } from './helpers.js';

let tmp: string;
let browser: BrowserContext;
const pages: Page[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'taskwire-dashboard-restart-'));
  await ensureDashboardBuilt();
  browser = await launchChromium(path.join(tmp, 'profile'));
}, 60_000);

afterAll(async () => {
  for (const page of pages) await page.close().catch(() => undefined);
  await browser?.close();
  await killAll();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const openDashboard = (url: string): Promise<{ page: Page; errors: string[] }> => openSignedIn(browser, pages, url);

describe('the dashboard across a server restart', () => {
  let serve: ServeProcess | undefined;

  it('shows the resync banner when the restarted server cannot replay the gap (memory engine)', async () => {
    const port = await freePort();
    let mem = await startTestServer({ dev: true, port });
    try {
      await api(mem, 'POST', '/tasks', { id: 'volatile', owner: 'frank', title: 'Kept in memory only' });
      const { page, errors } = await openDashboard(mem.url);
      await waitForRow(page, 'volatile', { status: 'queued' });
      expect(await page.locator('[data-testid="resync-banner"]').count()).toBe(0);
      await mem.close();
      await waitForConnection(page, 'connecting');
      mem = await startTestServer({ dev: true, port });
      await waitForConnection(page, 'connected');
      await page.waitForSelector('[data-testid="resync-banner"]:has-text("user:frank")', { timeout: 20_000 });
      await page.click('[data-testid="resync-banner"] button:text("Dismiss")');
      expect(await page.locator('[data-testid="resync-banner"]').count()).toBe(0);
      expect(await notReloaded(page)).toBe('still the same page');
      expect(errors).toEqual([]);
    } finally {
      await mem.close();
    }
  });

  it('shows reconnecting while the server is down, then catches up without a reload', async () => {
    const port = await freePort();
    const secrets = ['--jwt-secret', 'e2e-secret-0123456789abcdef0123456789ab', '--api-key', 'e2e-api-key-0123456789'];
    const args = ['--dev', '--engine', 'sqlite', '--db', path.join(tmp, 'tw.db'), '--port', String(port), ...secrets];
    serve = await startServe(args);
    const http = async (method: string, p: string, body?: unknown): Promise<void> => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1${p}`, {
        method,
        headers: { authorization: 'Bearer e2e-api-key-0123456789', 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
      expect(res.status, `${method} ${p}`).toBeLessThan(300);
    };
    await http('POST', '/tasks', { id: 'survivor', owner: 'erin', title: 'Long migration' });
    await http('PATCH', '/tasks/survivor', { progress: 20, stage: 'copy' });
    const { page, errors } = await openDashboard(serve.url);
    await waitForRow(page, 'survivor', { progress: '20' });

    serve.child.kill('SIGKILL');
    await serve.exited;
    await waitForConnection(page, 'connecting');
    await page.waitForSelector('.conn-text:text("Reconnecting…")');
    await page.waitForSelector('.conn-detail:text-matches("next attempt in [0-9]+ s|attempt [0-9]+ under way")');

    serve = await startServe(args);
    await http('PATCH', '/tasks/survivor', { progress: 60, stage: 'verify' });
    await waitForConnection(page, 'connected');
    await waitForRow(page, 'survivor', { progress: '60' });
    await http('PATCH', '/tasks/survivor', { status: 'succeeded' });
    await waitForRow(page, 'survivor', { status: 'succeeded' });
    expect(await notReloaded(page)).toBe('still the same page');
    expect(errors).toEqual([]);
  });
});
