/**
 * `task.stream(name)`: the whole text of one of a task's streams, from any moment of
 * subscription and across reconnects, with no chunk lost or doubled.
 *
 * Once the task's subscription is up, the text so far is read (the `stream` op); chunk
 * events that arrive meanwhile wait, and those it did not include are applied after
 * it, in order. From then on each chunk is applied by its `index`: an index already
 * applied is a duplicate (a replay after a reconnect) and dropped; an index past the
 * next one means chunks were missed (`recovered: false`), and the text is read again,
 * as it is on a `resync`. `done` once the task has ended and every chunk its snapshot
 * counts has been applied.
 */
import { isTerminalStatus, type StreamTextResult, type Task, type TaskEventData } from '@taskwire/protocol';
import { Listeners } from './emitter.js';
import type { ChannelNotice } from './subscription.js';

export interface StreamState {
  /** Every chunk so far, in order ('' while loading). */
  text: string;
  chunks: number;
  /** The task has ended and its last chunk is in `text`. */
  done: boolean;
}

/** What a stream handle needs of its task handle. */
export interface StreamSource {
  readonly id: string;
  readonly snapshot: Task | null | undefined;
  readonly state: 'subscribing' | 'subscribed' | 'unsubscribed';
  subscribe(listener: (notice: ChannelNotice) => void): () => void;
}

export type StreamReader = (taskId: string, stream: string) => Promise<StreamTextResult>;

const EMPTY: StreamState = Object.freeze({ text: '', chunks: 0, done: false });

export class StreamHandle {
  readonly #listeners = new Listeners<StreamState>();
  #state: StreamState = EMPTY;
  /** Chunks that arrived while the text was being read, by index. */
  #waiting: Map<number, string> | null = null;
  #reading = false;
  /** The text must be read (first, after a gap or a resync, or after a read that failed). */
  #stale = true;
  #off: () => void;
  #released = false;

  constructor(
    private readonly source: StreamSource,
    readonly name: string,
    private readonly read: StreamReader,
  ) {
    this.#off = source.subscribe((n) => this.#onNotice(n));
    if (source.state === 'subscribed') this.#load();
  }

  readonly getSnapshot = (): StreamState => this.#state;

  subscribe(listener: (state: StreamState) => void): () => void {
    return this.#listeners.add(listener);
  }

  /** Stop following (the task handle is the caller's to release). Idempotent. */
  release(): void {
    this.#released = true;
    this.#off();
  }

  #onNotice(n: ChannelNotice): void {
    if (n.type === 'state' && n.state === 'subscribed' && this.#stale) return this.#load();
    if (n.type === 'resync') return this.#load();
    if (n.type === 'snapshot') return this.#set(this.#state.text, this.#state.chunks);
    if (n.type !== 'event') return;
    const data = n.event.data as TaskEventData;
    if (data?.kind !== 'task.stream' || data.stream !== this.name) return;
    if (this.#waiting) this.#waiting.set(data.index, data.text);
    else this.#apply(data.index, data.text);
  }

  #apply(index: number, text: string): void {
    const { chunks } = this.#state;
    if (index < chunks) return; // already applied
    if (index > chunks) return this.#load(); // chunks were missed: read the whole text again
    this.#set(this.#state.text + text, chunks + 1);
  }

  #load(): void {
    this.#stale = true;
    if (this.#reading || this.#released) return;
    this.#reading = true;
    this.#waiting ??= new Map();
    this.read(this.source.id, this.name).then(
      (r) => {
        this.#reading = false;
        this.#stale = false;
        const waiting = this.#waiting ?? new Map<number, string>();
        this.#waiting = null;
        this.#set(r.text, r.chunks);
        for (let i = r.chunks; waiting.has(i); i++) this.#apply(i, waiting.get(i) as string);
      },
      () => {
        // Not connected (or refused): read again once the subscription is back up.
        this.#reading = false;
      },
    );
  }

  #set(text: string, chunks: number): void {
    if (this.#released) return;
    const task = this.source.snapshot;
    const done = !!task && isTerminalStatus(task.status) && chunks >= (task.streams?.[this.name]?.chunks ?? 0);
    const s = this.#state;
    if (s.text === text && s.chunks === chunks && s.done === done) return;
    this.#state = { text, chunks, done };
    this.#listeners.emit(this.#state);
  }
}
