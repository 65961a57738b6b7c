/**
 * Frames processed strictly in order, with backpressure instead of rejection: the
 * base of a Connection (a base class, not a field, so an idle connection holds no
 * extra object).
 *
 * With nothing in flight a frame's work runs at once, and work that finishes
 * synchronously (a publish on an in-process engine, a ping) costs no promise;
 * otherwise it waits for the frames before it (a promise chain). With `maxPending`
 * frames queued the socket stops being read (TCP slows the sender down) until the
 * queue is half drained; nothing is refused or closed.
 */
export type FrameWork = () => Promise<void> | void;

const IDLE: Promise<void> = Promise.resolve();

export abstract class FrameOrder {
  /** The tail of the frames being processed; the shared settled promise when none is. */
  private queue: Promise<void> = IDLE;
  private queued = 0;
  /** Reading is paused until the queue drains (backpressure). */
  private paused = false;

  /** Whether work may still run (checked before each frame's work). */
  protected abstract get running(): boolean;
  /** Work threw or rejected: report it (the connection closes). */
  protected abstract failed(err: unknown): void;
  protected abstract get maxPending(): number;
  protected abstract pauseReading(): void;
  protected abstract resumeReading(): void;

  /** Run `work` in frame order (see above). */
  protected enqueue(work: FrameWork): void {
    this.queued += 1;
    if (this.queued === 1) {
      const pending = this.attempt(work);
      if (pending) this.queue = pending.then(() => this.settled());
      else this.settled();
    } else {
      this.queue = this.queue.then(() => {
        const pending = this.attempt(work);
        return pending ? pending.then(() => this.settled()) : this.settled();
      });
    }
    // Frames already read from the socket still arrive (at most one read's worth); none is refused.
    if (!this.paused && this.queued >= this.maxPending) {
      this.paused = true;
      this.pauseReading();
    }
  }

  /** Run one frame's work. Never throws or rejects. */
  private attempt(work: FrameWork): Promise<void> | undefined {
    try {
      const pending = this.running ? work() : undefined;
      return pending?.catch((err: unknown) => this.failed(err));
    } catch (err) {
      this.failed(err);
      return undefined;
    }
  }

  /** One frame done. */
  private settled(): void {
    // Nothing left queued: let the chain go (an idle connection holds no promise of its own).
    if (--this.queued === 0) this.queue = IDLE;
    if (this.paused && this.queued <= this.maxPending >> 1) {
      this.paused = false;
      this.resumeReading();
    }
  }
}
