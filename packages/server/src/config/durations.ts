/** Durations as options take them: `500ms`, `30s`, `5m`, `2h`, `7d`, or a bare number of ms. */
const HOUR = 3600_000;
const DAY = 24 * HOUR;

const UNITS: ReadonlyArray<[string, number]> = [
  ['d', DAY],
  ['h', HOUR],
  ['m', 60_000],
  ['s', 1000],
];

/** A duration as written in the table and the help: `7d`, `90s`, `1500ms`, `0`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  const unit = UNITS.find(([, size]) => ms % size === 0);
  return unit ? `${ms / unit[1]}${unit[0]}` : `${ms}ms`;
}

/** A duration's milliseconds (`500ms`, `30s`, `5m`, `2h`, `7d`, or a bare number of ms), or NaN. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return NaN;
  const unit = m[2] ?? 'ms';
  return Number(m[1]) * (unit === 'ms' ? 1 : (UNITS.find(([u]) => u === unit) as [string, number])[1]);
}
