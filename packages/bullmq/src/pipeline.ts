/**
 * The order events are applied in: one job's events one after another, in stream
 * order; different jobs' at once, up to `concurrency` changes in flight. `checkpoint`
 * is the last stream id up to which every event pushed has been applied: a bridge
 * that takes over resumes after it, so nothing before it is lost and little is
 * applied twice.
 */
export class Pipeline {
  readonly #concurrency: number;
  #running = 0;
  readonly #slots: Array<() => void> = [];
  /** Per job, the last step queued: its next event runs after it. */
  readonly #tails = new Map<string, Promise<void>>();
  /** Stream ids in arrival order and whether each is applied; `#ids[#start]` is the first not applied. */
  readonly #ids: string[] = [];
  readonly #done: boolean[] = [];
  #start = 0;
  /** The absolute index of `#ids[0]` (entries before it were dropped). */
  #base = 0;
  #checkpoint: string | undefined;
  #inFlight = 0;
  #idle: Array<() => void> = [];

  constructor(concurrency: number) {
    this.#concurrency = Math.max(1, Math.floor(concurrency));
  }

  /** The last stream id with it and all before it applied (undefined before the first). */
  get checkpoint(): string | undefined {
    return this.#checkpoint;
  }

  /** Events pushed and not applied yet. */
  get pending(): number {
    return this.#inFlight;
  }

  /** Queue `run` for stream event `id` of job `key`; `run` reports its own errors (a throw is ignored). */
  push(id: string, key: string, run: () => Promise<void>): void {
    const index = this.#base + this.#ids.length;
    this.#ids.push(id);
    this.#done.push(false);
    this.#inFlight++;
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const step = previous.then(() => this.#slot(run)).finally(() => this.#finish(index));
    this.#tails.set(key, step);
    void step.finally(() => {
      if (this.#tails.get(key) === step) this.#tails.delete(key);
    });
  }

  /** Resolves once everything pushed so far is applied. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #slot(run: () => Promise<void>): Promise<void> {
    // A slot freed is handed to the next waiter as it is, so at most `concurrency` run at once.
    if (this.#running >= this.#concurrency) await new Promise<void>((resolve) => this.#slots.push(resolve));
    else this.#running++;
    try {
      await run();
    } catch {
      // `run` reports its own errors; one failing must not stop the job's later events.
    } finally {
      const next = this.#slots.shift();
      if (next) next();
      else this.#running--;
    }
  }

  #finish(index: number): void {
    this.#done[index - this.#base] = true;
    this.#inFlight--;
    while (this.#start < this.#done.length && this.#done[this.#start]) {
      this.#checkpoint = this.#ids[this.#start];
      this.#start++;
    }
    if (this.#start > 1024 && this.#start * 2 > this.#ids.length) {
      this.#ids.splice(0, this.#start);
      this.#done.splice(0, this.#start);
      this.#base += this.#start;
      this.#start = 0;
    }
    if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }
}
