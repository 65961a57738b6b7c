/** The built `taskwire` CLI, run as a child process: help, token, serve --dev, task and publish, errors. */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { OPTIONS } from '@taskwire/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitOf, runCli, startCli, waitForOutput } from './helpers/run-cli.js';
import { connect } from './helpers/ws-client.js';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

function decodeJwt(
  token: string,
  secret: string,
): { header: Record<string, unknown>; payload: Record<string, unknown>; valid: boolean } {
  const [h, p, sig] = token.split('.');
  const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
  const part = (s: string | undefined): Record<string, unknown> =>
    JSON.parse(Buffer.from(s ?? '', 'base64url').toString()) as Record<string, unknown>;
  return { header: part(h), payload: part(p), valid: sig === expected };
}

/** A local port with nothing listening on it. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe('taskwire --help and --version', () => {
  it('lists every command, and prints the package version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const name of ['serve', 'token', 'task', 'publish']) expect(help.stdout).toContain(`  ${name} `);
    const version = await runCli(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it.each(['serve', 'token', 'task', 'publish'])('taskwire %s --help prints its usage', async (name) => {
    const res = await runCli([name, '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`Usage: taskwire ${name}`);
    expect(res.stderr).toBe('');
  });

  it('serve --help lists every server option with its env var', async () => {
    const { stdout } = await runCli(['serve', '--help']);
    for (const o of OPTIONS) {
      expect(stdout).toContain(o.flag);
      expect(stdout).toContain(o.env);
    }
  });

  it('task update --help lists its flags', async () => {
    const { stdout } = await runCli(['task', 'update', '--help']);
    for (const flag of ['--status', '--progress', '--stage', '--message', '--result', '--error'])
      expect(stdout).toContain(flag);
  });
});

describe('taskwire token', () => {
  it('prints an HS256 token that verifies with the secret and carries the claims', async () => {
    const res = await runCli(
      ['token', '--sub', 'alice', '--channels', 'room:lobby,task:*', '--publish', 'room:lobby', '--ttl', '2h'],
      {
        TASKWIRE_JWT_SECRET: SECRET,
      },
    );
    expect(res.code).toBe(0);
    const jwt = decodeJwt(res.stdout.trim(), SECRET);
    expect(jwt.valid).toBe(true);
    expect(jwt.header.alg).toBe('HS256');
    expect(jwt.payload).toMatchObject({ sub: 'alice', channels: ['room:lobby', 'task:*'], publish: ['room:lobby'] });
    expect(jwt.payload.admin).toBeUndefined();
    expect(Number(jwt.payload.exp) - Number(jwt.payload.iat)).toBe(7200);
    expect(decodeJwt(res.stdout.trim(), `${SECRET}x`).valid).toBe(false);
  });

  it('takes --jwt-secret over the environment, and --admin', async () => {
    const res = await runCli(['token', '--sub', 'root', '--admin', '--jwt-secret', SECRET], {
      TASKWIRE_JWT_SECRET: 'other',
    });
    const jwt = decodeJwt(res.stdout.trim(), SECRET);
    expect(jwt.valid).toBe(true);
    expect(jwt.payload).toMatchObject({ sub: 'root', admin: true });
    expect(Number(jwt.payload.exp) - Number(jwt.payload.iat)).toBe(3600);
  });

  it('refuses without a secret, saying how to set it', async () => {
    const res = await runCli(['token', '--sub', 'alice']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('--jwt-secret');
    expect(res.stderr).toContain('TASKWIRE_JWT_SECRET');
  });

  it('rejects a bad --ttl or channel pattern with exit 2', async () => {
    const ttl = await runCli(['token', '--sub', 'alice', '--ttl', 'soon'], { TASKWIRE_JWT_SECRET: SECRET });
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toContain('--ttl');
    const pattern = await runCli(['token', '--sub', 'alice', '--channels', 'ro*m:x'], { TASKWIRE_JWT_SECRET: SECRET });
    expect(pattern.code).toBe(2);
    expect(pattern.stderr).toContain('--channels');
  });
});

describe('bad invocations', () => {
  it.each([
    [['serve', '--nope'], '--nope'],
    [['serve', '--dev', '--port', 'abc'], '--port'],
    [['serve', '--dev', '--heartbeat-ms', '5'], '--heartbeat-ms'],
    [['task', 'create', '--owner', 'alice', '--bogus', 'x'], '--bogus'],
    [['task', 'explode'], 'explode'],
    [['frobnicate'], 'frobnicate'],
  ])('%j exits 2 with one line naming %s', async (args, name) => {
    const res = await runCli(args);
    expect(res.code).toBe(2);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
    expect(res.stdout).toBe('');
  });

  it('serve outside --dev without secrets refuses to start and says how to set them', async () => {
    const res = await runCli(['serve', '--port', '0']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/--jwt-secret or TASKWIRE_JWT_SECRET/);
    const noKey = await runCli(['serve', '--port', '0'], { TASKWIRE_JWT_SECRET: SECRET });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--api-key or TASKWIRE_API_KEY/);
  });

  it('a task command against an unreachable server exits 1 with error unavailable', async () => {
    const port = await closedPort();
    const res = await runCli(['task', 'get', 'x', '--url', `http://127.0.0.1:${port}`, '--api-key', 'k']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      new RegExp(`^error unavailable: cannot reach http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED`),
    );
  });

  it('a task command without an API key exits 2 saying how to set it', async () => {
    const res = await runCli(['task', 'list']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('TASKWIRE_API_KEY');
  });
});

describe('taskwire serve --dev, then task and publish against it', () => {
  let server: ChildProcessWithoutNullStreams;
  let banner = '';
  let env: Record<string, string> = {};
  const grab = (label: string): string => {
    const m = new RegExp(`^\\s*${label}:\\s+(\\S+)`, 'm').exec(banner);
    if (!m?.[1]) throw new Error(`no "${label}" line in: ${banner}`);
    return m[1];
  };

  beforeAll(async () => {
    // The default engine (SQLite) on a database file of this test's own.
    const db = join(mkdtempSync(join(tmpdir(), 'taskwire-cli-')), 'taskwire.db');
    server = startCli(['serve', '--dev', '--port', '0', '--log-level', 'warn', '--db', db]);
    banner = await waitForOutput(server, /Admin token: \S+/);
    env = { TASKWIRE_URL: grab('HTTP'), TASKWIRE_API_KEY: grab('API key') };
    expect(grab('Dashboard')).toBe(`${grab('HTTP')}/`);
  });
  afterAll(async () => {
    if (server.exitCode === null) server.kill('SIGKILL');
    await exitOf(server);
  });

  it('prints the real port in its URLs, the generated secrets and a ready admin token', async () => {
    const http = grab('HTTP');
    expect(http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(http).not.toMatch(/:0$/);
    expect(grab('WebSocket')).toBe(`${http.replace('http', 'ws')}/api/v1/ws`);
    expect(grab('Health')).toBe(`${http}/healthz`);
    const health = await fetch(grab('Health'));
    expect(health.status).toBe(200);
    const jwt = decodeJwt(grab('Admin token'), grab('JWT secret'));
    expect(jwt.valid).toBe(true);
    expect(jwt.payload.admin).toBe(true);
    expect(Number(jwt.payload.exp) - Number(jwt.payload.iat)).toBe(3600);
    const ws = await connect(grab('WebSocket'), grab('Admin token'));
    expect(ws.frames[0]).toMatchObject({ type: 'welcome', protocol: 1 });
    await ws.close();
  });

  it('task create, update, get and list print the task as JSON', async () => {
    const created = await runCli(
      ['task', 'create', '--owner', 'alice', '--title', 'Demo', '--id', 'cli-1', '--stall-timeout-ms', '0'],
      env,
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      id: 'cli-1',
      owner: 'alice',
      title: 'Demo',
      status: 'queued',
      version: 1,
      stallTimeoutMs: 0,
    });

    const progressed = await runCli(
      ['task', 'update', 'cli-1', '--progress', '40', '--stage', 'build', '--message', 'compiling'],
      env,
    );
    expect(progressed.code).toBe(0);
    expect(JSON.parse(progressed.stdout)).toMatchObject({
      status: 'running',
      progress: 40,
      stage: 'build',
      message: 'compiling',
      version: 2,
    });

    const done = await runCli(
      ['task', 'update', 'cli-1', '--status', 'succeeded', '--result', '{"artifact":"a.tgz"}'],
      env,
    );
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({
      status: 'succeeded',
      progress: 100,
      result: { artifact: 'a.tgz' },
      version: 3,
    });

    const got = await runCli(['task', 'get', 'cli-1'], env);
    expect(JSON.parse(got.stdout)).toMatchObject({ id: 'cli-1', status: 'succeeded', version: 3 });

    const listed = await runCli(['task', 'list', '--owner', 'alice', '--limit', '10'], env);
    expect(listed.code).toBe(0);
    const page = JSON.parse(listed.stdout) as { tasks: Array<{ id: string }>; nextCursor: string | null };
    expect(page.tasks.map((t) => t.id)).toContain('cli-1');
  });

  it('task update --error fails a task', async () => {
    await runCli(['task', 'create', '--owner', 'bob', '--id', 'cli-2'], env);
    const failed = await runCli(['task', 'update', 'cli-2', '--status', 'failed', '--error', 'disk full'], env);
    expect(JSON.parse(failed.stdout)).toMatchObject({ status: 'failed', error: { message: 'disk full' } });
  });

  it('a coded HTTP error prints "error <code>: <message>" and exits 1', async () => {
    const missing = await runCli(['task', 'get', 'no-such-task'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error not_found: .+\n$/);
    const terminal = await runCli(['task', 'update', 'cli-1', '--progress', '10'], env);
    expect(terminal.code).toBe(1);
    expect(terminal.stderr).toMatch(/^error conflict: /);
    const wrongKey = await runCli(['task', 'list'], { ...env, TASKWIRE_API_KEY: 'wrong' });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^error unauthorized: /);
  });

  it('publish prints the position; a subscriber receives the event', async () => {
    const ws = await connect(grab('WebSocket'), grab('Admin token'));
    ws.send({ op: 'subscribe', id: 1, channel: 'room:cli' });
    await ws.waitFor((f) => f.type === 'reply' && f.id === 1);
    const res = await runCli(['publish', 'room:cli', '{"text":"hello"}', '--idempotency-key', 'k1'], env);
    expect(res.code).toBe(0);
    const pos = JSON.parse(res.stdout) as { epoch: string; offset: number };
    expect(pos).toMatchObject({ epoch: expect.any(String) as string, offset: 1 });
    const event = await ws.waitFor((f) => f.type === 'event');
    expect(event).toMatchObject({ channel: 'room:cli', offset: 1, data: { text: 'hello' } });
    const again = await runCli(['publish', 'room:cli', '{"text":"hello"}', '--idempotency-key', 'k1'], env);
    expect(JSON.parse(again.stdout)).toEqual(pos);
    await ws.close();
  });

  it('publish refuses bad JSON (exit 2) and task channels (forbidden, exit 1)', async () => {
    const badJson = await runCli(['publish', 'room:cli', '{nope'], env);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('<json>');
    const taskChannel = await runCli(['publish', 'task:cli-1', '{}'], env);
    expect(taskChannel.code).toBe(1);
    expect(taskChannel.stderr).toMatch(/^error forbidden: /);
  });

  it('stops gracefully with exit 0 on SIGTERM', async () => {
    server.kill('SIGTERM');
    expect(await exitOf(server)).toEqual({ code: 0, signal: null });
  });
});
