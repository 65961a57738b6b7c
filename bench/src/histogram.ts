/**
 * A fixed-size latency histogram in microseconds: log buckets of 2 % width from
 * 1 µs to ~17 minutes, so recording is one Math.log and an increment, and
 * histograms of several worker processes merge by adding their counts.
 */
const RATIO = 1.02;
const LOG_RATIO = Math.log(RATIO);
export const BUCKETS = 1400;

export interface HistogramData {
  counts: number[];
  max: number;
  total: number;
}

export class Histogram {
  readonly counts = new Uint32Array(BUCKETS);
  max = 0;
  total = 0;

  record(micros: number): void {
    const v = micros < 1 ? 1 : micros;
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(v) / LOG_RATIO));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total += 1;
    if (v > this.max) this.max = v;
  }

  reset(): void {
    this.counts.fill(0);
    this.max = 0;
    this.total = 0;
  }

  toJSON(): HistogramData {
    return { counts: Array.from(this.counts), max: this.max, total: this.total };
  }
}

export function mergeHistograms(parts: readonly HistogramData[]): HistogramData {
  const counts = new Array<number>(BUCKETS).fill(0);
  let max = 0;
  let total = 0;
  for (const p of parts) {
    for (let i = 0; i < BUCKETS; i++) counts[i] = (counts[i] ?? 0) + (p.counts[i] ?? 0);
    max = Math.max(max, p.max);
    total += p.total;
  }
  return { counts, max, total };
}

/** The value at quantile q (0..1), in µs: the upper edge of its bucket, capped at the max. */
export function quantile(h: HistogramData, q: number): number {
  if (h.total === 0) return NaN;
  const rank = Math.ceil(q * h.total);
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i] ?? 0;
    if (seen >= rank) return Math.min(h.max, RATIO ** (i + 1));
  }
  return h.max;
}
