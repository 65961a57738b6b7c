/**
 * examples/nextjs end to end: `next build` (offline: in a network namespace
 * without network where `unshare` allows it, telemetry off, no remote fonts), then
 * the production server (`next start` on a free port) against a real taskwire
 * server, driven in Chromium: sign in, start a job, open its page. The server's
 * HTML already shows the progress (the snapshot the server component read), the
 * first paint too, and the bar moves to `succeeded` over one WebSocket.
 *
 * The example is its own package (not a workspace, so the root `npm ci` stays
 * lean): its dependencies are installed here, once, from its lockfile.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../client/test/helpers/wait.js';
import { TEST_API_KEY, TEST_JWT_SECRET, startTestServer, type TestServer } from '../../server/test/helpers/server.js';
import { launchBrowser } from './helpers/browser.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/nextjs', import.meta.url));
const NEXT_BIN = `${EXAMPLE}/node_modules/next/dist/bin/next`;
const run = promisify(execFile);

let server: TestServer;
let next: ChildProcess | undefined;
let nextUrl = '';
let browser: Browser;
let nextLog = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** `unshare -rn` gives the build a network namespace with no network at all: proof it needs none. */
const offline = spawnSync('unshare', ['-rn', 'true']).status === 0;

beforeAll(async () => {
  for (const built of ['client/dist/share-entry.js', 'client/dist/backend/index.js', 'react/dist/index.js']) {
    if (!existsSync(fileURLToPath(new URL(`../../${built}`, import.meta.url)))) {
      throw new Error(`packages/${built} is missing: run npm run build first`);
    }
  }
  if (!existsSync(NEXT_BIN)) {
    await run('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: EXAMPLE, timeout: 120_000 });
  }
  await rm(`${EXAMPLE}/.next`, { recursive: true, force: true }); // a clean build, as from a fresh clone
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
  const [cmd, args] = offline
    ? ['unshare', ['-rn', process.execPath, NEXT_BIN, 'build']]
    : [process.execPath, [NEXT_BIN, 'build']];
  const t0 = Date.now();
  await run(cmd, args, { cwd: EXAMPLE, env, timeout: 120_000 });
  console.log(`next build (${offline ? 'without network' : 'with the network present'}): ${Date.now() - t0} ms`);

  server = await startTestServer();
  const port = await freePort();
  nextUrl = `http://127.0.0.1:${port}`;
  next = spawn(process.execPath, [NEXT_BIN, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: EXAMPLE,
    env: {
      ...env,
      TASKWIRE_URL: server.url,
      TASKWIRE_API_KEY: TEST_API_KEY,
      TASKWIRE_JWT_SECRET: TEST_JWT_SECRET,
      JOB_STEPS: '24',
      JOB_STEP_MS: '250',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  next.stdout?.on('data', (d: Buffer) => (nextLog += d.toString()));
  next.stderr?.on('data', (d: Buffer) => (nextLog += d.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(nextUrl).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline || next.exitCode !== null) throw new Error(`next start did not come up:\n${nextLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (next && next.exitCode === null) {
    const exited = new Promise((r) => next?.once('exit', r));
    next.kill('SIGTERM');
    await exited;
  }
  await server?.close();
});

interface Seen {
  /** `#job`'s progress when the DOM was first parsed (before any script ran), or null without it. */
  firstPaint: { progress: string; status: string } | null;
  /** Every progress the bar showed, in order. */
  progress: number[];
  loading: boolean;
  sockets: number;
}

describe('the Next.js example (next build, next start, Chromium)', () => {
  it('the first paint already shows progress, the bar moves to succeeded, over one WebSocket', async () => {
    const context = await browser.newContext();
    try {
      await context.addInitScript(() => {
        const w = window as unknown as { __seen: Seen };
        const seen: Seen = { firstPaint: null, progress: [], loading: false, sockets: 0 };
        w.__seen = seen;
        const Native = window.WebSocket;
        window.WebSocket = class extends Native {
          constructor(url: string | URL, protocols?: string | string[]) {
            super(url, protocols);
            seen.sockets += 1;
          }
        };
        const record = (): void => {
          const job = document.querySelector('#job');
          if (/loading/i.test(document.body?.textContent ?? '')) seen.loading = true;
          const p = Number(job?.getAttribute('data-progress'));
          if (job && seen.progress.at(-1) !== p) seen.progress.push(p);
        };
        document.addEventListener('DOMContentLoaded', () => {
          const job = document.querySelector('#job');
          seen.firstPaint = job
            ? { progress: job.getAttribute('data-progress') ?? '', status: job.getAttribute('data-status') ?? '' }
            : null;
          record();
          new MutationObserver(record).observe(document.body, { subtree: true, attributes: true, childList: true });
        });
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));

      await page.goto(`${nextUrl}/login?user=alice`); // the fake login: a cookie, then home
      expect(await page.textContent('h1')).toBe('Hello alice');
      const started = await page.request.post(`${nextUrl}/api/jobs`, { headers: { accept: 'application/json' } });
      expect(started.status()).toBe(200);
      const { id } = (await started.json()) as { id: string };
      // Open the page mid-way, so the server's snapshot has progress to show.
      for (const deadline = Date.now() + 15_000; ; await sleep(50)) {
        const now = await server.api<{ progress: number | null }>('GET', `/tasks/${id}`);
        if ((now.body.progress ?? 0) >= 20) break;
        if (Date.now() > deadline) throw new Error(`the job did not reach 20 %:\n${nextLog}`);
      }

      // The HTML itself (no script run) holds the progress.
      const html = await (await page.request.get(`${nextUrl}/jobs/${id}`)).text();
      const served = Number(/data-progress="(\d+)"/.exec(html)?.[1]);
      expect(served).toBeGreaterThanOrEqual(20);

      await page.goto(`${nextUrl}/jobs/${id}`);
      await page.waitForSelector('#job[data-status="succeeded"]', { timeout: 20_000, state: 'attached' });
      const seen = await page.evaluate(() => (window as unknown as { __seen: Seen }).__seen);
      expect(seen.firstPaint).not.toBeNull();
      const first = Number(seen.firstPaint?.progress);
      expect(first).toBeGreaterThanOrEqual(20);
      expect(seen.firstPaint?.status).toBe('running');
      expect(seen.loading).toBe(false);
      // It moved from the first paint to 100, never backwards, through values in between.
      expect(seen.progress[0]).toBe(first);
      expect(seen.progress.at(-1)).toBe(100);
      expect(seen.progress).toEqual([...seen.progress].sort((a, b) => a - b));
      expect(seen.progress.filter((p) => p > first && p < 100).length).toBeGreaterThan(0);
      // One WebSocket, in the page and on the server.
      expect(seen.sockets).toBe(1);
      expect(server.server.stats().connectionsByTransport.ws).toBe(1);
      // A second tab on the job: its first paint is the final state, and it shares the one socket.
      const second = await context.newPage();
      await second.goto(`${nextUrl}/jobs/${id}`);
      const later = await second.evaluate(() => (window as unknown as { __seen: Seen }).__seen.firstPaint);
      expect(later).toEqual({ progress: '100', status: 'succeeded' });
      await second.waitForSelector('#connection[data-state="connected"]', { timeout: 10_000, state: 'attached' });
      expect(await second.evaluate(() => (window as unknown as { __seen: Seen }).__seen.sockets)).toBe(0);
      expect(server.server.stats().connectionsByTransport.ws).toBe(1);
      expect(errors).toEqual([]);
      console.log(`first paint at ${first} %, then ${seen.progress.length - 1} changes to succeeded`);
    } finally {
      await context.close();
    }
  });
});
