/**
 * One server per SQLite file, with real `taskwire serve` processes: a second server
 * on the same file exits non-zero with one line naming the process that holds it,
 * while the first keeps serving; a server killed with SIGKILL leaves no lock behind
 * (the lock is the kernel's), so the next one starts on the same file at once.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_BIN, exitWithin, freePort, killAll, startServe } from './helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-lock-'));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

const API_KEY = 'lock-test-api-key-0123456789abcdef';
const args = (port: number, db: string): string[] => [
  '--port',
  String(port),
  '--db',
  db,
  '--jwt-secret',
  'lock-test-secret-0123456789abcdef0123456789ab',
  '--api-key',
  API_KEY,
  '--log-level',
  'warn',
];

async function api(base: string, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  await res.text();
  return res.status;
}

/** Run `taskwire serve` to its exit (bounded); its status and everything it wrote. */
function runToExit(argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, 'serve', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the second server did not exit; output: ${out} ${err}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe('the SQLite file is locked for one server', () => {
  it('refuses a second server with one line naming the holder; the first keeps serving; SIGKILL leaves no stale lock', async () => {
    const db = join(dir, 'shared.db');
    const first = await startServe(args(await freePort(), db));
    expect(readFileSync(`${db}.pid`, 'utf8').trim()).toBe(String(first.child.pid));

    const second = await runToExit(args(await freePort(), db));
    expect(second.code).not.toBe(0);
    expect(second.out).toBe('');
    const lines = second.err.trim().split('\n');
    expect(lines, second.err).toHaveLength(1);
    expect(lines[0]).toContain(`is locked by another taskwire server (pid ${first.child.pid})`);
    expect(lines[0]).toContain(db);

    // The first is untouched: it reads and writes as before.
    expect(await api(first.url, 'POST', '/tasks', { id: 'kept', owner: 'ann' })).toBe(201);
    expect(await api(first.url, 'GET', '/tasks/kept')).toBe(200);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);

    first.child.kill('SIGKILL');
    await exitWithin(first);
    expect(existsSync(`${db}.pid`)).toBe(true); // stale, and harmless
    const third = await startServe(args(await freePort(), db));
    expect(await api(third.url, 'GET', '/tasks/kept')).toBe(200);
    expect(readFileSync(`${db}.pid`, 'utf8').trim()).toBe(String(third.child.pid));
    third.child.kill('SIGTERM');
    expect((await exitWithin(third)).code).toBe(0);
    expect(existsSync(`${db}.pid`)).toBe(false);
  }, 90_000);
});
