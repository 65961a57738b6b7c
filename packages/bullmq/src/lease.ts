/**
 * Which bridge process applies a queue's events, and where it stopped: a lock with a
 * TTL and a checkpoint (the last stream id applied), two keys beside the queue's own
 * (`<prefix>:<queue>:taskwire:lock`, `…:taskwire:checkpoint`). The holder renews the
 * lock and writes the checkpoint in one script, only while the lock is still its own;
 * a process that dies stops renewing, and another takes over when the TTL runs out,
 * reading on from the checkpoint. Scripts run on the queue's own Redis client.
 */
import type { Queue } from 'bullmq';

const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0, '', ''} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local from = redis.call('GET', KEYS[2])
if not from then
  local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  if #last > 0 then from = last[1][1] else from = '0-0' end
  redis.call('SET', KEYS[2], from)
end
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
if #first > 0 then return {1, from, first[1][1]} end
return {1, from, ''}`;

const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3]) end
return 1`;

const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
redis.call('DEL', KEYS[1])
return 1`;

const COMMANDS = {
  twBridgeAcquire: { lua: ACQUIRE, numberOfKeys: 3 },
  twBridgeRenew: { lua: RENEW, numberOfKeys: 2 },
  twBridgeRelease: { lua: RELEASE, numberOfKeys: 2 },
} as const;
type Command = keyof typeof COMMANDS;

export interface Acquired {
  /** Read the stream after this id (the checkpoint; on a first start, the stream's end then). */
  from: string;
  /** The oldest id the stream still has ('' when empty): past the checkpoint means events were trimmed unread. */
  oldest: string;
}

/** Whether stream id `a` comes before `b` (`<ms>-<seq>`). */
export function streamIdBefore(a: string, b: string): boolean {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am < bm || (am === bm && as < bs);
}

export class Lease {
  readonly #queue: Queue;
  readonly #token: string;
  readonly #ttlMs: number;
  readonly #keys: [lock: string, checkpoint: string, events: string];
  #defined = false;

  constructor(queue: Queue, token: string, ttlMs: number) {
    this.#queue = queue;
    this.#token = token;
    this.#ttlMs = ttlMs;
    this.#keys = [queue.toKey('taskwire:lock'), queue.toKey('taskwire:checkpoint'), queue.keys.events ?? ''];
  }

  /** Take the lock if it is free (or already ours): where to read from, or null when another process holds it. */
  async acquire(): Promise<Acquired | null> {
    const [got, from, oldest] = (await this.#run('twBridgeAcquire', [...this.#keys, this.#token, this.#ttlMs])) as [
      number,
      string,
      string,
    ];
    return got === 1 ? { from, oldest } : null;
  }

  /** Extend the lock and store `checkpoint`; false when the lock is no longer ours. */
  async renew(checkpoint: string | undefined): Promise<boolean> {
    const [lock, cp] = this.#keys;
    return (await this.#run('twBridgeRenew', [lock, cp, this.#token, this.#ttlMs, checkpoint ?? ''])) === 1;
  }

  /** Store `checkpoint` and free the lock, if it is still ours. */
  async release(checkpoint: string | undefined): Promise<void> {
    const [lock, cp] = this.#keys;
    await this.#run('twBridgeRelease', [lock, cp, this.#token, checkpoint ?? '']);
  }

  async #run(name: Command, args: Array<string | number>): Promise<unknown> {
    const client = await this.#queue.getBackend().client;
    if (!this.#defined) {
      for (const [cmd, def] of Object.entries(COMMANDS)) client.defineCommand(cmd, def);
      this.#defined = true;
    }
    return client.runCommand(name, args) as Promise<unknown>;
  }
}
