/**
 * Every child process the bench starts goes through here: it is registered, pinned
 * to its CPU set with taskset when possible, and killed when the bench exits, fails
 * or is interrupted (SIGINT, SIGTERM). Children also exit on their own when their
 * IPC channel to the bench closes (see ipc.ts), so none outlives a killed bench.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { isReady, Rpc } from './ipc.js';

const live = new Set<ChildProcess>();
/** Processes started by children (redis-server): killed by pid too. */
const extraPids = new Set<number>();
let hooked = false;

/** Kill this pid when the bench exits (a grandchild the bench measures). */
export function trackPid(pid: number): void {
  hookExit();
  extraPids.add(pid);
}

export function untrackPid(pid: number): void {
  extraPids.delete(pid);
}

function killAll(): void {
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  extraPids.clear();
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

function track(child: ChildProcess): ChildProcess {
  hookExit();
  live.add(child);
  child.on('exit', () => live.delete(child));
  return child;
}

let tasksetOk: boolean | null = null;

/** CPU sets: the servers on the first core, the load generator on the rest (null: no pinning). */
export function cpuSets(): { server: string; clients: string } | null {
  if (tasksetOk === null) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetOk = true;
    } catch {
      tasksetOk = false;
    }
  }
  const n = cpus().length;
  if (!tasksetOk || n < 2) return null;
  return { server: '0', clients: n === 2 ? '1' : `1-${n - 1}` };
}

/** Pin every thread of `pid` to `cpuList` (best effort). */
export function pin(pid: number | undefined, cpuList: string | undefined): void {
  if (pid === undefined || cpuList === undefined) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
  } catch {
    // not fatal: the numbers are then noisier
  }
}

export interface Forked {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly rpc: Rpc;
  readonly port: number | undefined;
  /** Ask it to stop, then SIGKILL it if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface ForkOptions {
  name: string;
  args: string[];
  /** Another Node binary (the uWebSockets.js target runs under Node 20). */
  execPath?: string;
  execArgv?: string[];
  cpuList?: string;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/** Fork a Node script, wait for its `ready` message; kill it if it does not come. */
export async function forkChild(script: string, o: ForkOptions): Promise<Forked> {
  const child = track(
    fork(script, o.args, {
      execPath: o.execPath ?? process.execPath,
      execArgv: o.execArgv ?? [],
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${o.name}: could not start`);
  pin(pid, o.cpuList);
  const rpc = new Rpc(child, o.name);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let port: number | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${o.name}: not ready within ${o.readyTimeoutMs ?? 20000} ms`)),
        o.readyTimeoutMs ?? 20000,
      );
      child.on('message', (m: unknown) => {
        if (!isReady(m)) return;
        clearTimeout(timer);
        port = m.port;
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${o.name} exited with code ${String(code)} before it was ready`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  // Threads started during startup (libuv pool, V8 helpers) get the same CPU set.
  pin(pid, o.cpuList);
  return {
    child,
    pid,
    rpc,
    port,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        await rpc.call('stop', null, graceMs).catch(() => undefined);
        if (child.connected) child.disconnect();
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * A Node binary whose ABI has a native uWebSockets.js build (Node ≤ 20, ABI ≤ 115),
 * or null. Under newer Node the package silently falls back to a slow JS
 * implementation, which must never be measured.
 */
export function findUwsNode(
  uwsBinaryFor: (abi: string) => string,
): { execPath: string; version: string; binary: string } | null {
  const candidates = new Set<string>(['/usr/bin/node', '/usr/local/bin/node', '/bin/node']);
  try {
    for (const p of execFileSync('which', ['-a', 'node'], { encoding: 'utf8' }).split('\n')) if (p) candidates.add(p);
  } catch {
    // no `which`
  }
  if (process.env.BENCH_UWS_NODE) candidates.add(process.env.BENCH_UWS_NODE);
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    try {
      const [abi, version] = execFileSync(candidate, ['-p', 'process.versions.modules + " " + process.version'], {
        encoding: 'utf8',
        timeout: 10_000,
      })
        .trim()
        .split(' ');
      if (abi && version && Number(abi) <= 115 && existsSync(uwsBinaryFor(abi)))
        return { execPath: candidate, version, binary: uwsBinaryFor(abi) };
    } catch {
      // not a working node
    }
  }
  return null;
}
