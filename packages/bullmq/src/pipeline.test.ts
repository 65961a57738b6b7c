import { describe, expect, it } from 'vitest';
import { Pipeline } from './pipeline.js';

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Pipeline', () => {
  it("runs one job's events in order, other jobs' at once, and moves the checkpoint over a done prefix only", async () => {
    const p = new Pipeline(8);
    const log: string[] = [];
    const gates = new Map<string, () => void>();
    const step = (name: string) => () =>
      new Promise<void>((resolve) => {
        log.push(`start ${name}`);
        gates.set(name, () => {
          log.push(`end ${name}`);
          resolve();
        });
      });
    p.push('1-0', 'a', step('a1'));
    p.push('2-0', 'b', step('b1'));
    p.push('3-0', 'a', step('a2'));
    await tick();
    expect(log).toEqual(['start a1', 'start b1']); // a2 waits for a1
    gates.get('b1')!();
    await tick();
    expect(p.checkpoint).toBeUndefined(); // 1-0 is not applied yet
    gates.get('a1')!();
    await tick();
    expect(p.checkpoint).toBe('2-0');
    expect(log.at(-1)).toBe('start a2');
    gates.get('a2')!();
    await p.idle();
    expect(p.checkpoint).toBe('3-0');
    expect(p.pending).toBe(0);
  });

  it('keeps at most `concurrency` steps running', async () => {
    const p = new Pipeline(3);
    let running = 0;
    let most = 0;
    for (let i = 0; i < 50; i++) {
      p.push(`${i + 1}-0`, `job${i}`, async () => {
        running++;
        most = Math.max(most, running);
        await tick(1);
        running--;
      });
    }
    await p.idle();
    expect(most).toBe(3);
    expect(p.checkpoint).toBe('50-0');
  });

  it('drops what it no longer needs and keeps counting past it', async () => {
    const p = new Pipeline(4);
    for (let i = 1; i <= 5000; i++) p.push(`${i}-0`, `j${i % 10}`, () => Promise.resolve());
    await p.idle();
    expect(p.checkpoint).toBe('5000-0');
    p.push('5001-0', 'x', () => Promise.resolve());
    await p.idle();
    expect(p.checkpoint).toBe('5001-0');
  });

  it('goes on with a job after one of its steps throws', async () => {
    const p = new Pipeline(2);
    const ran: number[] = [];
    p.push('1-0', 'a', () => Promise.reject(new Error('boom')));
    p.push('2-0', 'a', () => {
      ran.push(2);
      return Promise.resolve();
    });
    await p.idle();
    expect(ran).toEqual([2]);
    expect(p.checkpoint).toBe('2-0');
  });
});
