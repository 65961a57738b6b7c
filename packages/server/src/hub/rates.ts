/**
 * A counter with a per-second rate, without timers: each `add` rolls the window
 * forward from the clock, so an idle counter costs nothing and holds no timer.
 * `perSecond()` is the count of the last complete second.
 */
export class RateCounter {
  /** Everything counted since creation. */
  total = 0;
  private second = 0;
  private current = 0;
  private previous = 0;

  constructor(private readonly now: () => number = Date.now) {}

  add(n: number): void {
    this.total += n;
    this.roll();
    this.current += n;
  }

  perSecond(): number {
    this.roll();
    return this.previous;
  }

  private roll(): void {
    const second = Math.floor(this.now() / 1000);
    if (second === this.second) return;
    this.previous = second === this.second + 1 ? this.current : 0;
    this.current = 0;
    this.second = second;
  }
}
