/**
 * For the dashboard's browser tests: make sure `packages/dashboard/dist` is built
 * from the current sources (Vite's JS API with the package's own vite.config.ts,
 * only when a source is newer than the build), and small page helpers.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
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
