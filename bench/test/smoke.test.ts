/**
 * Smoke run of the benchmark harness (a few seconds): the quick fan-out against
 * taskwire and plain ws, through the built harness (`npm run build` first), must
 * produce numbers for both with every event delivered. The benchmark itself stays
 * out of `npm test`.
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

describe('bench harness', () => {
  it('measures taskwire and plain ws in quick mode, every event delivered', async () => {
    expect(existsSync(script), `${script} is missing: run npm run build first`).toBe(true);
    const json = join(dir, 'results.json');
    await run(
      process.execPath,
      [script, '--quick', '--scenarios', 'fanout-200-max', '--targets', 'taskwire,ws', '--json', json],
      { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const results = JSON.parse(readFileSync(json, 'utf8')) as Array<{
      id: string;
      targets: Record<string, TargetResult>;
    }>;
    expect(results.map((r) => r.id)).toEqual(['fanout-200-max']);
    for (const name of ['taskwire', 'ws']) {
      const t = results[0]!.targets[name]!;
      expect(t.error, name).toBeNull();
      expect(t.runs, name).toBe(1);
      expect(t.medians.delivered, name).toBe(100);
      expect(t.medians.rate, name).toBeGreaterThan(0);
      expect(t.medians.p99, name).toBeGreaterThan(0);
      expect(Number.isFinite(t.medians.cpu), name).toBe(true);
      expect(t.medians.rss, name).toBeGreaterThan(0);
      expect(t.medians.outOfOrder, name).toBe(0);
    }
  });
});
