/**
 * The Python SDK (clients/python), its Celery bridge (taskwire.celery), the FastAPI
 * example (examples/fastapi) and the webhook receiver (examples/webhook-receiver): their pytest suites run with Debian's /usr/bin/python3
 * (python3-pytest, python3-fastapi, python3-uvicorn, python3-celery, python3-redis), each
 * against a real server it starts; the Celery suite also starts a redis-server and two
 * Celery workers. Then the example's page in real Chromium: log in, start a job, watch the
 * browser's own WebSocket render it to the end. No skip: a missing interpreter, package or
 * redis-server fails loudly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../react/test/helpers/browser.js';
import { TEST_JWT_SECRET, startTestServer, type TestServer } from '../../server/test/helpers/server.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PYTHON = '/usr/bin/python3';

/** Fails loudly unless Debian's python3 can import every module the suites need, and redis-server runs. */
function requirePython(): void {
  if (!existsSync(PYTHON)) {
    throw new Error(`${PYTHON} is missing: install python3 (apt-get install python3 python3-pytest)`);
  }
  const modules = 'pytest, fastapi, uvicorn, celery, redis';
  const check = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8', timeout: 30_000 });
  if (check.status !== 0) {
    throw new Error(
      `${PYTHON} cannot import ${modules} (apt-get install python3-pytest python3-fastapi python3-uvicorn python3-celery python3-redis): ${check.stderr}`,
    );
  }
  const redis = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (redis.error || redis.status !== 0) {
    throw new Error('redis-server is required by the Celery bridge tests (apt-get install redis-server)');
  }
}

function pythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TASKWIRE_')) env[k] = v;
  // The server the suites start runs on this Node; no bytecode or cache files in the tree.
  return { ...env, TASKWIRE_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

function pytest(dir: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', dir], {
      cwd: REPO,
      env: pythonEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => {
      output += '\n[killed: pytest ran over 100 s]';
      child.kill('SIGKILL');
    }, 100_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the Python SDK, its Celery bridge and the Python examples (pytest)', () => {
  beforeAll(requirePython);

  it('clients/python/tests pass against a real server', async () => {
    const { code, output } = await pytest('clients/python/tests');
    expect(code, output).toBe(0);
    expect(output, output).toMatch(/\d+ passed/);
    expect(output, output).not.toMatch(/skipped|xfail/);
  }, 120_000);

  it('clients/python/tests_celery pass: the Celery bridge with real workers, redis and server', async () => {
    const { code, output } = await pytest('clients/python/tests_celery');
    expect(code, output).toBe(0);
    expect(output, output).toMatch(/\d+ passed/);
    expect(output, output).not.toMatch(/skipped|xfail/);
  }, 120_000);

  it('examples/fastapi/tests pass against a real server', async () => {
    const { code, output } = await pytest('examples/fastapi/tests');
    expect(code, output).toBe(0);
    expect(output, output).toMatch(/\d+ passed/);
  }, 120_000);

  it('examples/webhook-receiver/tests pass: real webhooks verified by the example receiver', async () => {
    const { code, output } = await pytest('examples/webhook-receiver/tests');
    expect(code, output).toBe(0);
    expect(output, output).toMatch(/\d+ passed/);
    expect(output, output).not.toMatch(/skipped|xfail/);
  }, 120_000);
});

/** The example app under uvicorn on a socket the launcher binds; resolves with its URL once it answers. */
async function startApp(server: TestServer): Promise<{ url: string; child: ChildProcess; log: () => string }> {
  const launcher = [
    'import socket, sys, uvicorn',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)',
    'print(s.getsockname()[1], flush=True)',
    'sys.path.insert(0, sys.argv[1])',
    'config = uvicorn.Config("app:app", log_level="warning")',
    'uvicorn.Server(config).run(sockets=[s])',
  ].join('\n');
  const child = spawn(PYTHON, ['-c', launcher, path.join(REPO, 'examples', 'fastapi')], {
    cwd: REPO,
    env: pythonEnv({
      TASKWIRE_URL: server.url,
      TASKWIRE_API_KEY: server.apiKey,
      TASKWIRE_JWT_SECRET: TEST_JWT_SECRET,
      JOB_STEPS: '30',
      JOB_STEP_SECONDS: '0.08',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const port = /^(\d+)$/m.exec(out)?.[1];
    if (port) {
      const url = `http://127.0.0.1:${port}`;
      const up = await fetch(`${url}/`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return { url, child, log: () => out };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the FastAPI example did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the FastAPI example page in Chromium', () => {
  let tmp: string;
  let server: TestServer;
  let app: Awaited<ReturnType<typeof startApp>>;
  let browser: BrowserContext;

  beforeAll(async () => {
    requirePython();
    tmp = await mkdtemp(path.join(tmpdir(), 'taskwire-fastapi-'));
    server = await startTestServer();
    app = await startApp(server);
    browser = await launchChromium(path.join(tmp, 'profile'));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    app?.child.kill('SIGTERM');
    await server?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('logs in, starts a job and renders its progress live to succeeded', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url().replace(/ticket=[^&]*/, 'ticket=…')));

    await page.goto(`${app.url}/login?user=pia`); // the fake login sets the cookie and redirects to the page
    expect(new URL(page.url()).pathname).toBe('/');
    await page.click('#start');
    // Progress between the ends, rendered from live events, then the end.
    await page.waitForFunction(
      () => {
        const bar = document.querySelector<HTMLProgressElement>('#bar');
        return bar !== null && bar.value > 0 && bar.value < 100;
      },
      undefined,
      { timeout: 15_000 },
    );
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'succeeded', undefined, {
      timeout: 20_000,
    });
    expect(await page.$eval('#bar', (el) => (el as HTMLProgressElement).value)).toBe(100);
    expect(await page.textContent('#title')).toBe('Crunch numbers');
    expect(errors, app.log()).toEqual([]);
    expect(sockets).toEqual([`${server.wsUrl}?ticket=…`]); // one socket, one prefix

    const tasks = await server.api('GET', '/tasks?owner=pia');
    expect(tasks.body.tasks).toHaveLength(1);
    expect(tasks.body.tasks[0]).toMatchObject({ status: 'succeeded', result: { sum: 435 } });
    await page.close();
  }, 60_000);
});
