/**
 * Real redis-server processes for the tests, on random free ports, never the machine's
 * Redis on 6379. Without persistence (`--save "" --appendonly no`), so a restart loses
 * everything, as a production Redis without persistence would. Every process started
 * here is tracked and killed by stopAllRedis() (call it in afterAll) or at exit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI ?? 'redis-cli';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Fail loudly, never skip: these tests are the proof that the Redis engine works. */
function requireBinaries(): void {
  for (const bin of [REDIS_SERVER, REDIS_CLI]) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0)
      throw new Error(`${bin} is required for the Redis engine tests (apt-get install redis-server)`);
  }
}

/** A free port whose cluster bus port (port + 10000) is free too. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenFree(0);
    if (port + 10000 > 65535 || port === 6379) continue;
    if ((await listenFree(port + 10000).catch(() => 0)) !== 0) return port;
  }
  throw new Error('no free port pair found');
}

function listenFree(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Resolves when the server answers PING (any reply: LOADING counts as not yet). */
async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ port, host: '127.0.0.1' });
      sock.setTimeout(500);
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (buf) => {
        sock.destroy();
        resolve(buf.toString().startsWith('+PONG'));
      });
      sock.once('error', () => resolve(false));
      sock.once('timeout', () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis on ${port} did not answer PING`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class RedisServer {
  private child: ChildProcess | null = null;

  constructor(
    readonly port: number,
    private readonly extraArgs: string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const child = spawn(REDIS_SERVER, [...args, '--daemonize', 'no', ...this.extraArgs], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    await waitForPing(this.port);
  }

  /** Kill the process (SIGKILL: no shutdown save) and wait for it to be gone. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Lose every key: a restart without persistence. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

const servers = new Set<RedisServer>();
const dirs: string[] = [];

export async function startRedis(): Promise<RedisServer> {
  requireBinaries();
  const server = new RedisServer(await freePort());
  servers.add(server);
  await server.start();
  return server;
}

export interface RedisCluster {
  nodes: RedisServer[];
  /** Seed URLs of the masters. */
  urls: string[];
}

/** Three masters, no replicas, every slot assigned, `cluster_state:ok` on each. */
export async function startCluster(): Promise<RedisCluster> {
  requireBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'tw-redis-cluster-'));
  dirs.push(dir);
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const node = new RedisServer(port, [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      '2000',
      '--dir',
      dir,
    ]);
    servers.add(node);
    await node.start();
    nodes.push(node);
  }
  const hosts = nodes.map((n) => `127.0.0.1:${n.port}`);
  const create = spawnSync(REDIS_CLI, ['--cluster', 'create', ...hosts, '--cluster-replicas', '0', '--cluster-yes'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
  const deadline = Date.now() + 20_000;
  for (const node of nodes) {
    for (;;) {
      const info = spawnSync(REDIS_CLI, ['-p', String(node.port), 'cluster', 'info'], { encoding: 'utf8' });
      if (info.stdout.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error(`cluster not ok on ${node.port}: ${info.stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { nodes, urls: nodes.map((n) => n.url) };
}

/** Kill every server this module started and remove their files. Safe to call twice. */
export async function stopAllRedis(): Promise<void> {
  await Promise.all(Array.from(servers, (s) => s.stop()));
  servers.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
