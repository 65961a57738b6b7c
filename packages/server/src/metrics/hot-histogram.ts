/**
 * A Prometheus histogram for the hot path. prom-client's `Histogram.observe` hashes
 * the label set and allocates a closure and an object on every call (~0.5 µs, a
 * measurable share of an engine commit on the memory engine); here each label value
 * is a `HotSeries` resolved once, and `observe` is a bucket search and three
 * additions on preallocated numbers. The registry renders it like its own histograms
 * (`_bucket{le}` cumulative, `_sum`, `_count`), from `get()` at scrape time.
 */
import type { Metric, Registry } from 'prom-client';

export class HotSeries {
  /** Per bucket (non-cumulative), the last one for values above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export interface HotHistogramOptions {
  name: string;
  help: string;
  /** Upper bounds, ascending. */
  buckets: readonly number[];
  /** The one label that tells series apart, or none. */
  labelName?: string;
  registers: Registry[];
}

export class HotHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly bounds: readonly number[];
  private readonly labelName: string | undefined;
  private readonly series = new Map<string, HotSeries>();

  constructor(o: HotHistogramOptions) {
    this.name = o.name;
    this.help = o.help;
    this.bounds = [...o.buckets].sort((a, b) => a - b);
    this.labelName = o.labelName;
    // The registry only calls get() and reset() (and reads name, type, aggregator): what every metric has.
    for (const registry of o.registers) registry.registerMetric(this as unknown as Metric);
    if (this.labelName === undefined) this.child();
  }

  /** The series of one label value (the only one, without a label); keep it and observe into it. */
  child(labelValue = ''): HotSeries {
    let s = this.series.get(labelValue);
    if (!s) {
      s = new HotSeries(this.bounds, this.labelName === undefined ? {} : { [this.labelName]: labelValue });
      this.series.set(labelValue, s);
    }
    return s;
  }

  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    for (const s of this.series.values()) {
      if (s.count === 0 && this.labelName !== undefined) continue;
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i] as number;
        const le = i < this.bounds.length ? (this.bounds[i] as number) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  reset(): void {
    for (const s of this.series.values()) s.reset();
  }
}
