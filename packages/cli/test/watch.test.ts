/**
 * `taskwire watch` against a real server, as a child process: plain lines when
 * stdout is a pipe (with the test driving the task over HTTP), every exit status
 * (0 succeeded, 1 failed/cancelled, 2 usage, 3 not found / not permitted), the
 * user feed with --until-idle, a refused token; then a real pseudo-terminal
 * (`script` from util-linux) and the bar renderer on a fake TTY stream.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Writable } from 'node:stream';
import type { Task } from '@taskwire/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartable, TEST_API_KEY } from '../../client/test/helpers/server.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../../server/test/helpers/server.js';
import { ttyRenderer } from '../src/watch/render.js';
import { BIN, cleanEnv, exitOf, runCli, startCli } from './helpers/run-cli.js';

// eslint-disable-next-line no-control-regex -- looking for escape sequences
const ANSI = /\u001b\[/;

interface Watched {
  child: ChildProcessWithoutNullStreams;
  out(): string;
  err(): string;
  /** Resolves once stdout matches `re` (polls; rejects after `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcessWithoutNullStreams>();

/** Every child this file started is gone (killed if still running) before the file ends. */
async function killAll(): Promise<void> {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all([...children].map((c) => exitOf(c)));
}
afterAll(killAll);

function track(child: ChildProcessWithoutNullStreams): Watched {
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return {
    child,
    out: () => out,
    err: () => err,
    async waitFor(re, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before ${String(re)}: ${out} ${err}`);
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${String(re)}; stdout: ${out}; stderr: ${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    exit: () => exitOf(child),
  };
}

describe('taskwire watch (plain output, a real server)', () => {
  let ctx: TestServer;
  let env: Record<string, string>;
  const create = (id: string, owner = 'alice'): Promise<unknown> =>
    ctx.api('POST', '/tasks', { id, owner, title: `task ${id}` }).then((r) => expect(r.status).toBe(201));
  const update = (id: string, body: Record<string, unknown>): Promise<unknown> =>
    ctx.api('PATCH', `/tasks/${id}`, body).then((r) => expect(r.status).toBe(200));
  const watch = (args: string[], extra: Record<string, string> = {}): Watched =>
    track(startCli(['watch', ...args], { ...env, ...extra }));

  beforeAll(async () => {
    ctx = await startTestServer();
    env = { TASKWIRE_URL: ctx.url, TASKWIRE_JWT_SECRET: TEST_JWT_SECRET };
  });
  afterAll(async () => {
    await killAll();
    await ctx.close();
  });

  it('prints a line per change and exits 0 when the task succeeds', async () => {
    await create('w-ok');
    const w = watch(['w-ok']);
    await w.waitFor(/^w-ok queued -% - —$/m);
    await update('w-ok', { progress: 30, stage: 'build', message: 'compiling 3 of 10' });
    await w.waitFor(/^w-ok running 30% build — compiling 3 of 10$/m);
    await ctx.api('POST', '/tasks/w-ok/logs', { lines: ['not shown without --logs'] });
    await update('w-ok', { progress: 30, stage: 'build', message: 'compiling 3 of 10', meta: { x: 1 } }); // same line
    await update('w-ok', { progress: 72.25, stage: 'test', message: 'x\u001b[31m red' });
    await w.waitFor(/^w-ok running 72\.3% test — x \[31m red$/m);
    await update('w-ok', { status: 'succeeded', result: { ok: true } });
    expect(await w.exit()).toEqual({ code: 0, signal: null });
    expect(w.out().trim().split('\n')).toEqual([
      'w-ok queued -% - —',
      'w-ok running 30% build — compiling 3 of 10',
      'w-ok running 72.3% test — x [31m red',
      'w-ok succeeded 100% test — x [31m red',
    ]);
    expect(w.out()).not.toMatch(ANSI);
    expect(w.err()).toBe('');
  });

  it('prints the output stream line by line as it grows, the last partial line at the end; --no-stream none', async () => {
    await create('w-stream');
    const w = watch(['w-stream']);
    const quiet = watch(['w-stream', '--no-stream']);
    await w.waitFor(/^w-stream queued/m);
    await quiet.waitFor(/^w-stream queued/m);
    const chunk = (text: string): Promise<unknown> =>
      ctx.api('POST', '/tasks/w-stream/stream', { text }).then((r) => expect(r.status).toBe(200));
    await update('w-stream', { progress: 10, stage: 'write' });
    await chunk('Dear reader,\nthis is ');
    await w.waitFor(/^Dear reader,$/m);
    await chunk('the first line.\nAnd a ');
    await w.waitFor(/^this is the first line\.$/m);
    await ctx.api('POST', '/tasks/w-stream/stream', { text: 'elsewhere\n', stream: 'notes' });
    await chunk('last one');
    await update('w-stream', { status: 'succeeded' });
    expect(await w.exit()).toEqual({ code: 0, signal: null });
    expect((await quiet.exit()).code).toBe(0);
    const lines = w.out().trim().split('\n');
    expect(lines.filter((l) => !l.startsWith('w-stream '))).toEqual([
      'Dear reader,',
      'this is the first line.',
      'And a last one',
    ]);
    expect(quiet.out()).not.toMatch(/Dear reader/);
    expect(w.out()).not.toMatch(/elsewhere/);
  });

  it('exits 1 when the task fails, showing the error; --logs prints its log lines', async () => {
    await create('w-fail');
    const w = watch(['w-fail', '--logs', '--token', await ctx.token({ sub: 'alice' })], { TASKWIRE_JWT_SECRET: '' });
    await w.waitFor(/^w-fail queued/m);
    await update('w-fail', { progress: 60, stage: 'upload', message: 'part 3 of 5' });
    await ctx.api('POST', '/tasks/w-fail/logs', { lines: ['retrying part 4'] });
    await w.waitFor(/^w-fail log: retrying part 4$/m);
    await update('w-fail', { status: 'failed', error: 'disk full' });
    expect(await w.exit()).toEqual({ code: 1, signal: null });
    expect(w.out()).toMatch(/^w-fail failed 60% upload — error: disk full$/m);
  });

  it('exits 1 when the task is cancelled, and at once for a task that already ended', async () => {
    await create('w-cancel');
    const w = watch(['w-cancel']);
    await w.waitFor(/^w-cancel queued/m);
    expect((await ctx.api('POST', '/tasks/w-cancel/cancel')).status).toBe(200);
    expect((await w.exit()).code).toBe(1);
    expect(w.out()).toMatch(/^w-cancel cancelled /m);
    const again = await runCli(['watch', 'w-ok'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('w-ok succeeded 100% test — x [31m red\n');
  });

  it('exits 3 for a missing task, and for another user’s task (not_found alike)', async () => {
    const missing = await runCli(['watch', 'no-such-task'], env);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error not_found: /);
    const bob = await ctx.token({ sub: 'bob' });
    const other = await runCli(['watch', 'w-ok', '--token', bob], env);
    expect(other.code).toBe(3);
    expect(other.stderr).toMatch(/not_found/);
    const feed = await runCli(['watch', 'user:alice', '--token', bob], env);
    expect(feed.code).toBe(3);
    expect(feed.stderr).toMatch(/^error forbidden: /);
  });

  it('prints a line and exits 3 when the token is refused', async () => {
    const res = await runCli(['watch', 'w-ok'], { ...env, TASKWIRE_JWT_SECRET: '', TASKWIRE_TOKEN: 'not-a-jwt' });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/^unauthorized: .+\(--token\)\n$/);
  });

  it('exits 1 when the server cannot be reached within --connect-timeout', async () => {
    const res = await runCli(['watch', 'x', '--url', 'http://127.0.0.1:9', '--connect-timeout', '1']);
    expect(res.code).toBe(2); // no credentials: a usage error comes first
    const down = await runCli(['watch', 'x', '--url', 'http://127.0.0.1:9', '--connect-timeout', '1'], {
      TASKWIRE_JWT_SECRET: TEST_JWT_SECRET,
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error unavailable: cannot connect to ws:\/\/127\.0\.0\.1:9\/api\/v1\/ws/);
  });

  it.each([
    [[], 'exactly one'],
    [['a', 'b'], 'exactly one'],
    [['bad id!'], 'not a task id'],
    [['user:'], 'not user:<id>'],
    [['w-ok', '--until-idle'], '--until-idle'],
    [['user:alice', '--logs'], '--logs'],
    [['w-ok', '--nope'], '--nope'],
    [['w-ok', '--connect-timeout', 'soon'], '--connect-timeout'],
    [['w-ok', '--url', 'ftp://x'], '--url'],
  ])('watch %j exits 2 naming %s', async (args, name) => {
    const res = await runCli(['watch', ...args], env);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain(name);
    expect(res.stdout).toBe('');
  });

  it('without a token or secret exits 2 saying how to set one', async () => {
    const res = await runCli(['watch', 'w-ok'], { TASKWIRE_URL: ctx.url });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('TASKWIRE_TOKEN');
    expect(res.stderr).toContain('TASKWIRE_JWT_SECRET');
  });

  it('watch --help prints its usage and exit statuses', async () => {
    const res = await runCli(['watch', '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Usage: taskwire watch');
    expect(res.stdout).toContain('--until-idle');
  });

  it('user:<id> --until-idle shows every unfinished task, then exits 1 if one failed', async () => {
    await create('c-old', 'carol');
    await update('c-old', { progress: 100 });
    await update('c-old', { status: 'succeeded' }); // finished before: not shown
    await create('c-1', 'carol');
    await update('c-1', { progress: 10, stage: 'fetch' });
    const w = watch(['user:carol', '--until-idle']);
    await w.waitFor(/^c-1 running 10% fetch/m);
    await create('c-2', 'carol'); // created while watching
    await w.waitFor(/^c-2 queued/m);
    await update('c-1', { status: 'succeeded' });
    await w.waitFor(/^c-1 succeeded/m);
    expect(w.child.exitCode).toBeNull(); // c-2 still queued
    await update('c-2', { status: 'failed', error: 'boom' });
    expect(await w.exit()).toEqual({ code: 1, signal: null });
    expect(w.out()).not.toContain('c-old');
    expect(w.out()).toMatch(/^c-2 failed -% - — error: boom$/m);
  });

  it('user:<id> --until-idle exits 0 when all succeeded, and at once when the user is idle', async () => {
    await create('d-1', 'dave');
    const w = watch(['user:dave', '--until-idle', '--token', await ctx.token({ sub: 'dave' })], {
      TASKWIRE_JWT_SECRET: '',
    });
    await w.waitFor(/^d-1 queued/m);
    await update('d-1', { progress: 50 });
    await update('d-1', { status: 'succeeded' });
    expect((await w.exit()).code).toBe(0);
    const idle = await runCli(['watch', 'user:nobody', '--until-idle'], env);
    expect(idle).toMatchObject({ code: 0, stdout: '' });
  });

  it('user:<id> without --until-idle keeps watching until Ctrl-C (exit 130)', async () => {
    const w = watch(['user:erin']);
    await new Promise((r) => setTimeout(r, 300));
    await create('e-1', 'erin');
    await w.waitFor(/^e-1 queued/m);
    await update('e-1', { progress: 99 });
    await update('e-1', { status: 'succeeded' });
    await w.waitFor(/^e-1 succeeded/m);
    await new Promise((r) => setTimeout(r, 200));
    expect(w.child.exitCode).toBeNull();
    w.child.kill('SIGINT');
    expect(await w.exit()).toEqual({ code: 130, signal: null });
  });
});

describe('taskwire watch across a server restart', () => {
  it('reconnects silently, recovers, and still exits 0 when the task succeeds', async () => {
    const server = await restartable();
    const api = async (method: string, path: string, body: unknown): Promise<void> => {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.ok).toBe(true);
    };
    try {
      await api('POST', '/tasks', { id: 'r-1', owner: 'alice' });
      const w = track(
        startCli(['watch', 'r-1'], {
          TASKWIRE_URL: `http://127.0.0.1:${server.port}`,
          TASKWIRE_JWT_SECRET: TEST_JWT_SECRET,
        }),
      );
      await w.waitFor(/^r-1 queued/m);
      await server.restart(); // the watcher gets 1012 and reconnects with backoff
      await api('PATCH', '/tasks/r-1', { progress: 50, stage: 'after', message: 'the restart' });
      await w.waitFor(/^r-1 running 50% after — the restart$/m, 15_000);
      await api('PATCH', '/tasks/r-1', { status: 'succeeded' });
      expect(await w.exit()).toEqual({ code: 0, signal: null });
      expect(w.err()).toBe('');
    } finally {
      await server.close();
    }
  });
});

const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

describe('taskwire watch on a terminal', () => {
  let ctx: TestServer;
  beforeAll(async () => {
    ctx = await startTestServer();
  });
  afterAll(async () => {
    await killAll();
    await ctx.close();
  });

  it.skipIf(!hasScript)('draws a progress bar in a pseudo-terminal (script) and exits 0 on success', async () => {
    await ctx.api('POST', '/tasks', { id: 'pty-1', owner: 'alice' });
    const command = `'${process.execPath}' '${BIN}' watch pty-1`;
    const env = cleanEnv({ TASKWIRE_URL: ctx.url, TASKWIRE_JWT_SECRET: TEST_JWT_SECRET, TERM: 'xterm' });
    const w = track(spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: 'pipe' }));
    await w.waitFor(/pty-1/);
    await ctx.api('PATCH', '/tasks/pty-1', { progress: 50, stage: 'render', message: 'frame 12 of 24' });
    await w.waitFor(/frame 12 of 24/);
    await ctx.api('PATCH', '/tasks/pty-1', { status: 'succeeded' });
    expect((await w.exit()).code).toBe(0);
    const out = w.out();
    expect(out).toMatch(ANSI); // cursor movement and hiding: a terminal renderer
    expect(out).toContain('\u2588'); // the bar's filled blocks
    expect(out).toContain('\u2591');
    expect(out).toMatch(/50%\s+pty-1\s+running\s+render — frame 12 of 24/);
    expect(out).toMatch(/100%\s+pty-1\s+succeeded/);
    expect(out).toContain('\u001b[?25h'); // the cursor is shown again
  });
});

describe('the terminal renderer on a fake TTY stream', () => {
  const task = (over: Partial<Task>): Task => ({
    id: 't-1',
    owner: 'alice',
    title: null,
    status: 'running',
    progress: 40,
    stage: 'encode',
    message: '40 of 100 frames',
    result: null,
    error: null,
    approval: null,
    meta: {},
    stallTimeoutMs: 60_000,
    createdAt: '2026-11-22T10:00:00.000Z',
    updatedAt: '2026-11-22T10:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    version: 2,
    parentId: null,
    batch: null,
    children: null,
    tags: [],
    streams: {},
    ...over,
  });

  function fakeTty(): { stream: Writable & { isTTY: boolean; columns: number; rows: number }; text: () => string } {
    let text = '';
    const stream = Object.assign(
      new Writable({
        write(chunk: Buffer, _enc, done) {
          text += chunk.toString();
          done();
        },
      }),
      { isTTY: true, columns: 120, rows: 30 },
    );
    return { stream, text: () => text };
  }

  it('draws a bar per task with status, stage and message; a finished task becomes a line above', async () => {
    const { stream, text } = fakeTty();
    const r = ttyRenderer(stream, { multi: true });
    r.update(task({}));
    r.update(task({ id: 't-2', progress: null, stage: null, message: null, status: 'queued' }));
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(text()).toContain('\u001b[?25l');
    expect(text()).toMatch(/\u2588+\u2591+\s+40%\s+t-1\s+running\s+encode — 40 of 100 frames/);
    expect(text()).toMatch(/\s-%\s+t-2\s+queued\s+- —/);
    r.update(task({ status: 'succeeded', progress: 100, version: 3 }));
    r.note('a notice');
    r.stop();
    r.stop(); // idempotent
    expect(text()).toContain('✔ t-1 succeeded 100% encode — 40 of 100 frames\n');
    expect(text()).toContain('a notice\n');
    expect(text()).toContain('\u001b[?25h');
  });

  it('keeps the bar of a single task when it ends', () => {
    const { stream, text } = fakeTty();
    const r = ttyRenderer(stream, { multi: false });
    r.update(task({}));
    r.update(task({ status: 'failed', error: { message: 'out of memory' }, version: 3 }));
    r.stop();
    expect(text()).toMatch(/40%\s+t-1\s+failed\s+encode — error: out of memory/);
    expect(text()).not.toContain('✖');
  });
});
