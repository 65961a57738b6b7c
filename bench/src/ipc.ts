/**
 * The control messages between the orchestrator and its children (targets and
 * client workers), over the Node IPC channel of child_process.fork. Every request
 * carries an `id`; the child answers `{ id, ok, result | error }`. Dependency-free:
 * the uWebSockets.js target imports it under Node 20.
 */
import type { ChildProcess } from 'node:child_process';

export interface Request {
  id: number;
  cmd: string;
  args?: unknown;
}

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** What a child sends once it is ready to take requests. */
export interface Ready {
  ready: true;
  port?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export function isRequest(v: unknown): v is Request {
  return isObject(v) && typeof v.id === 'number' && typeof v.cmd === 'string';
}

function isResponse(v: unknown): v is Response {
  return isObject(v) && typeof v.id === 'number' && typeof v.ok === 'boolean';
}

/** Request/response over a forked child's IPC channel, each request bounded by a timeout. */
export class Rpc {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: Error | null = null;

  constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
  ) {
    child.on('message', (m: unknown) => {
      if (!isResponse(m)) return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(`${name}: ${m.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = new Error(`${name} exited (code ${String(code)}, signal ${String(signal)})`);
      for (const w of this.waiting.values()) w.reject(this.exited);
      this.waiting.clear();
    });
  }

  call<T>(cmd: string, args: unknown, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, cmd, args } satisfies Request);
    });
  }
}

export type Handler = (args: unknown) => unknown;

/**
 * In a child: answer requests with `handlers[cmd]`, exit when the parent goes away
 * (its IPC channel closes), and announce readiness.
 */
export function serveRequests(handlers: Record<string, Handler>, onParentGone: () => void): void {
  process.on('message', (m: unknown) => {
    if (!isRequest(m)) return;
    const handler = handlers[m.cmd];
    const reply = (r: Response): void => {
      if (process.connected) process.send?.(r);
    };
    if (!handler) return reply({ id: m.id, ok: false, error: `unknown command ${m.cmd}` });
    Promise.resolve()
      .then(() => handler(m.args))
      .then(
        (result) => reply({ id: m.id, ok: true, result: result ?? null }),
        (err: unknown) => reply({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  process.on('disconnect', onParentGone);
}

export function announceReady(ready: Ready): void {
  process.send?.(ready);
}

export function isReady(v: unknown): v is Ready {
  return isObject(v) && v.ready === true;
}
