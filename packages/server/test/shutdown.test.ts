/** Graceful shutdown of a real `taskwire serve` process: SIGTERM → exit 0 within the budget. */
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitWithin, freePort, killAll, startServe } from './helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'taskwire-shutdown-'));
const sockets: Socket[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('graceful shutdown', () => {
  it('exits 0 on SIGTERM even while a client holds a connection it never sent a request on', async () => {
    const port = await freePort();
    const server = await startServe([
      '--dev',
      '--port',
      String(port),
      '--db',
      join(dir, 'idle.db'),
      '--shutdown-timeout-ms',
      '2000',
      '--log-level',
      'warn',
    ]);
    // A connection with no request on it: Node's close() alone would wait for it for ever.
    const idle = connect(port, '127.0.0.1');
    sockets.push(idle);
    await new Promise<void>((resolve, reject) => idle.once('connect', resolve).once('error', reject));
    const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    server.child.kill('SIGTERM');
    expect(await exitWithin(server, 10_000)).toEqual({ code: 0, signal: null });
    await closed;
  });
});
