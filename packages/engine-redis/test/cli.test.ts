/** `taskwire serve --engine redis`: the CLI builds the Redis engine; two CLI nodes share one Redis. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, stopAllRedis } from './helpers/redis.js';

const BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));
const SECRET = 'cli-redis-test-secret-0123456789abcdef';
const API_KEY = 'cli-redis-test-api-key';
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await stopAllRedis();
});

/** Start `taskwire serve` and resolve with its URL once the banner is printed. */
async function serve(args: string[]): Promise<{ url: string; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), ...args], {
    env: { PATH: process.env.PATH ?? '', TASKWIRE_JWT_SECRET: SECRET, TASKWIRE_API_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('taskwire listening on')) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`taskwire serve exited with ${String(code)}: ${out}`));
    });
  });
  return { url: `http://127.0.0.1:${port}`, output: () => out };
}

const api = async (url: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('taskwire serve --engine redis', () => {
  it('runs on Redis: a task written through one node is read through another', async () => {
    const redis = await startRedis();
    const a = await serve(['--engine', 'redis', '--redis', redis.url, '--log-level', 'warn']);
    const b = await serve(['--engine', 'redis', '--redis', redis.url, '--log-level', 'warn']);
    expect(a.output()).toContain(`engine redis at ${redis.url}`);
    expect((await fetch(`${a.url}/readyz`)).status).toBe(200);
    const created = await api(a.url, 'POST', '/tasks', { owner: 'alice', title: 'across nodes' });
    expect(created.status).toBe(201);
    const read = await api(b.url, 'GET', `/tasks/${String(created.body.id)}`);
    expect(read.status).toBe(200);
    expect(read.body.title).toBe('across nodes');
  });

  it('refuses --engine redis without --redis or --redis-cluster, naming the options', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--engine', 'redis'], {
      env: { PATH: process.env.PATH ?? '', TASKWIRE_JWT_SECRET: SECRET, TASKWIRE_API_KEY: API_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/--engine redis needs --redis \(TASKWIRE_REDIS_URL\)/);
  });

  it('fails in one line when Redis cannot be reached', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--engine', 'redis', '--redis', `redis://127.0.0.1:${port}`, '--port', '0'],
      {
        env: { PATH: process.env.PATH ?? '', TASKWIRE_JWT_SECRET: SECRET, TASKWIRE_API_KEY: API_KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(err).toMatch(/the redis engine could not start/);
  });
});
