/**
 * Key names. Every key of one channel, and a task's snapshot with its own
 * `task:<id>` channel, share one Redis Cluster hash slot through a hash tag
 * (`{…}`), so one Lua script may touch them all. Channel names cannot contain
 * braces (docs/protocol.md §1), so a channel name is always a whole, valid hash tag.
 *
 *   <p>:{task:abc}:task        hash: json, version, stallAt, streams, idem (the task snapshot; its create key)
 *   <p>:{task:abc}:pending     list: derived writes of recent commits not yet confirmed
 *   <p>:{task:abc}:meta        hash: epoch, top (the channel's position)
 *   <p>:{task:abc}:stream      stream: entry id `<offset>-0`, fields t (ms), d (JSON)
 *   <p>:{task:abc}:ps          (sharded) pub/sub channel of the node broker
 *   <p>:{task:abc}:pk:<key>    publish idempotency key → the first event
 *   <p>:{user:bo}:mk:<job>:<i> mirror dedupe key → the mirrored event
 *   <p>:{idem:<key>}           create idempotency key → task id
 *   <p>:{claim:<key>}          single-use claims (tickets)
 *   <p>:{idx}:all, :owner:<o>  sorted sets (lexicographic) of `<createdAt> <id>`
 *   <p>:{idx}:stalls, :stallv  stall deadlines (score) and the task version that set them
 *   <p>:{idx}:expiry           top-level tasks that ended, `<finishedAt> <id>` (retention)
 *   <p>:{task:abc}:wh, :whq    webhook outbox: pending messages (hash) and their order (list)
 *   <p>:{task:abc}:whi         commits with messages under way (counter, expires)
 *   <p>:{task:abc}:whd:<msg>   a settled message (hash, expires: 24 h delivered, 7 days failed)
 *   <p>:{idx}:wh:*             outbox indexes: task marks, touches, message → task, by status
 */
export interface ChannelKeys {
  meta: string;
  stream: string;
  pubsub: string;
  publishKey(key: string): string;
  /** Dedupes the mirror of one task event (commit job id, event index) on this channel. */
  mirrorKey(jobId: string, index: number): string;
}

export class Keys {
  constructor(readonly prefix: string) {}

  channel(channel: string): ChannelKeys {
    const base = `${this.prefix}:{${channel}}`;
    return {
      meta: `${base}:meta`,
      stream: `${base}:stream`,
      pubsub: `${base}:ps`,
      publishKey: (key) => `${base}:pk:${key}`,
      mirrorKey: (jobId, index) => `${base}:mk:${jobId}:${index}`,
    };
  }

  /** The channel a broker message arrived on, or null for a foreign one. */
  channelOfPubsub(pubsub: string): string | null {
    const head = `${this.prefix}:{`;
    if (!pubsub.startsWith(head) || !pubsub.endsWith('}:ps')) return null;
    return pubsub.slice(head.length, -'}:ps'.length);
  }

  /** The chunks of one of a task's streams (a list, in the task's slot). */
  streamChunks(id: string, stream: string): string {
    return `${this.streamChunksPrefix(id)}${stream}`;
  }

  /** What every stream chunk list of a task starts with. */
  streamChunksPrefix(id: string): string {
    return `${this.prefix}:{task:${id}}:out:`;
  }

  task(id: string): string {
    return `${this.prefix}:{task:${id}}:task`;
  }

  pending(id: string): string {
    return `${this.prefix}:{task:${id}}:pending`;
  }

  /** A task's webhook outbox (outbox.lua), in the task's slot. */
  outbox(id: string): { hash: string; queue: string; intent: string; settled(msg: string): string } {
    const base = `${this.prefix}:{task:${id}}`;
    return {
      hash: `${base}:wh`,
      queue: `${base}:whq`,
      intent: `${base}:whi`,
      settled: (msg) => `${base}:whd:${msg}`,
    };
  }

  /** The outbox indexes (outbox-index.lua), in the `{idx}` slot, in the order of its KEYS. */
  get outboxIndex(): string[] {
    const base = `${this.prefix}:{idx}:wh`;
    return [
      `${base}:marks`,
      `${base}:touch`,
      `${base}:seq`,
      `${base}:task`,
      `${base}:pending`,
      `${base}:failed`,
      `${base}:delivered`,
    ];
  }

  createKey(key: string): string {
    return `${this.prefix}:{idem:${key}}`;
  }

  claim(key: string): string {
    return `${this.prefix}:{claim:${key}}`;
  }

  /**
   * The task indexes share one fixed hash tag: listing and the stall sweep read one
   * slot (one shard) instead of fanning out to all of them. See docs/scaling.md.
   */
  get index(): {
    all: string;
    stalls: string;
    stallVersions: string;
    /** Parents whose snapshot may lag their children (score: when marked); see PendingParents. */
    pendingParents: string;
    /** Top-level tasks that ended (lexicographic, see expiryMember): the retention sweep's candidates. */
    expiry: string;
    owner(owner: string): string;
    /** A parent's children, as the list index (written before the child's create: see batches.ts). */
    parent(parent: string): string;
    tag(tag: string): string;
  } {
    const base = `${this.prefix}:{idx}`;
    return {
      all: `${base}:all`,
      stalls: `${base}:stalls`,
      stallVersions: `${base}:stallv`,
      pendingParents: `${base}:pparents`,
      expiry: `${base}:expiry`,
      owner: (owner) => `${base}:owner:${owner}`,
      parent: (parent) => `${base}:parent:${parent}`,
      tag: (tag) => `${base}:tag:${tag}`,
    };
  }
}

/** The member of the expiry index: sorts as (finishedAt, id), finishedAt as 15 digits of ms. */
export function expiryMember(finishedAt: number, id: string): string {
  return `${String(Math.max(0, Math.floor(finishedAt))).padStart(15, '0')} ${id}`;
}

/** The member of the list indexes: sorts as (createdAt, id) byte-wise; a space sorts below both alphabets. */
export function listMember(createdAt: string, id: string): string {
  return `${createdAt} ${id}`;
}
