/**
 * Smoke run of the benchmark harness, through the built harness (`npm run build`
 * first): the quick in-process fan-out (taskwire, plain ws) and the quick outside
 * scenarios, WebSocket publish (taskwire, plain ws) and HTTP task updates (taskwire,
 * the Fastify + ws app), must produce numbers for every target with every event
 * delivered, in order. Short and deterministic: no assertion on a timing.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const script = resolve(import.meta.dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'taskwire-bench-smoke-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface TargetResult {
  runs: number;
  medians: Record<string, number>;
  error: string | null;
}

async function bench(
  scenarios: string,
  targets: string,
): Promise<Array<{ id: string; targets: Record<string, TargetResult> }>> {
  expect(existsSync(script), `${script} is missing: run npm run build first`).toBe(true);
  const json = join(dir, `${scenarios}.json`);
  await run(process.execPath, [script, '--quick', '--scenarios', scenarios, '--targets', targets, '--json', json], {
    timeout: 90_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(readFileSync(json, 'utf8')) as Array<{ id: string; targets: Record<string, TargetResult> }>;
}

function expectDelivered(t: TargetResult | undefined, name: string): void {
  expect(t, name).toBeDefined();
  expect(t!.error, name).toBeNull();
  expect(t!.runs, name).toBe(1);
  expect(t!.medians.delivered, name).toBe(100);
  expect(t!.medians.rate, name).toBeGreaterThan(0);
  expect(t!.medians.p99, name).toBeGreaterThan(0);
  expect(Number.isFinite(t!.medians.cpu), name).toBe(true);
  expect(t!.medians.rss, name).toBeGreaterThan(0);
  expect(t!.medians.outOfOrder, name).toBe(0);
  expect(t!.medians.closes, name).toBe(0);
}

describe('bench harness', () => {
  it('measures taskwire and plain ws in quick mode, every event delivered', async () => {
    const results = await bench('fanout-200-max', 'taskwire,ws');
    expect(results.map((r) => r.id)).toEqual(['fanout-200-max']);
    for (const name of ['taskwire', 'ws']) expectDelivered(results[0]!.targets[name], name);
  }, 120_000);

  it('measures publishes from outside: WebSocket publish and HTTP task updates, every event delivered', async () => {
    const results = await bench('rooms-300-ws-max,tasks-300-http-max', 'taskwire,ws,app-ws');
    expect(results.map((r) => r.id)).toEqual(['rooms-300-ws-max', 'tasks-300-http-max']);
    const [rooms, tasks] = results;
    for (const name of ['taskwire', 'ws']) {
      expectDelivered(rooms!.targets[name], `rooms ${name}`);
      expect(rooms!.targets[name]!.medians.replyP99, name).toBeGreaterThan(0);
    }
    for (const name of ['taskwire', 'app-ws']) expectDelivered(tasks!.targets[name], `tasks ${name}`);
    // The contention columns are there (what other processes took of the pinned CPUs, when pinned).
    expect(Number.isFinite(tasks!.targets.taskwire!.medians.serverBusy)).toBe(true);
  }, 120_000);
});
