/**
 * Runs one redis-server (argv[2]: port) for the Redis scenarios and kills it when
 * the bench goes away (IPC disconnect) or asks it to stop. Reports Redis' pid so
 * the bench can measure and, on its own exit, kill it too.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { announceReady, serveRequests } from './ipc.js';

const port = Number(process.argv[2]);
const redis = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);

function stop(): void {
  redis.kill('SIGKILL');
  process.exit(0);
}

redis.on('exit', (code) => {
  console.error(`redis-server exited (${String(code)})`);
  process.exit(1);
});

function ping(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}

async function main(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await ping()) {
      serveRequests({ pid: () => redis.pid ?? 0, stop: () => setImmediate(stop) }, stop);
      announceReady({ ready: true, port });
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error('redis-server did not answer PING within 10 s');
  stop();
}

void main();
