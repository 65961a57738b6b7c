/**
 * For the dashboard's browser tests: make sure `packages/dashboard/dist` is built
 * from the current sources (Vite's JS API with the package's own vite.config.ts,
 * only when a source is newer than the build), and small page helpers.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { TestServer } from '../../server/test/helpers/server.js';
import { build } from 'vite';

export const DASHBOARD = fileURLToPath(new URL('..', import.meta.url));
export const DIST_INDEX = path.join(DASHBOARD, 'dist', 'index.html');

function newest(file: string): number {
  const st = statSync(file);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(file).map((f) => newest(path.join(file, f))));
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Builds the dashboard into its dist/ unless the build is newer than every source. */
export async function ensureDashboardBuilt(): Promise<void> {
  const sources = ['src', 'index.html', 'vite.config.ts'].map((f) => newest(path.join(DASHBOARD, f)));
  if (mtime(DIST_INDEX) > Math.max(...sources)) return;
  // vitest sets NODE_ENV=test, which Vite would keep: React's development build. Build what users get.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ root: DASHBOARD, configFile: path.join(DASHBOARD, 'vite.config.ts'), logLevel: 'warn' });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
}

/** Waits (bounded) for the row of task `id` to match `attrs` (data-status, data-progress). */
export async function waitForRow(
  page: Page,
  id: string,
  attrs: Record<string, string>,
  timeout = 20_000,
): Promise<void> {
  const sel = `li.task-row[data-id="${id}"]${Object.entries(attrs)
    .map(([k, v]) => `[data-${k}="${v}"]`)
    .join('')}`;
  await page.waitForSelector(sel, { timeout });
}

/** Waits for the connection indicator to be in `state`. */
export async function waitForConnection(page: Page, state: string, timeout = 20_000): Promise<void> {
  await page.waitForSelector(`.connection[data-state="${state}"]`, { timeout });
}

/** A page of `browser` at `url` that signed in by itself (dev token) and is connected; its errors are collected. */
export async function openSignedIn(
  browser: BrowserContext,
  pages: Page[],
  url: string,
  width = 1280,
  height = 800,
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  pages.push(page);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.setViewportSize({ width, height });
  await page.goto(`${url}/`);
  await waitForConnection(page, 'connected');
  await page.evaluate(() => {
    (window as unknown as { __loaded: string }).__loaded = 'still the same page';
  });
  return { page, errors };
}

/** The marker openSignedIn() left: still there means the page was not reloaded. */
export const notReloaded = (page: Page): Promise<string> =>
  page.evaluate(() => (window as unknown as { __loaded: string }).__loaded);

/** One API call that must succeed. */
export async function api(s: { api: TestServer['api'] }, method: string, p: string, body?: unknown): Promise<void> {
  const res = await s.api(method, p, body);
  expect(res.status, `${method} ${p}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
}
