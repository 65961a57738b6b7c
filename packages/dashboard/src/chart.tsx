/** A small SVG line chart: a few series over the same time axis, scaled to their common maximum. */
import type { ReactElement } from 'react';

export interface Series {
  name: string;
  className: string;
  values: readonly number[];
}

const W = 600;
const H = 200;
const PAD = { top: 10, right: 8, bottom: 18, left: 40 };

/** A "nice" upper bound: 1, 2, 5 × 10^n at or above `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * exp >= max) return m * exp;
  return 10 * exp;
}

export function LineChart(props: {
  series: readonly Series[];
  slots: number;
  spanLabel: string;
  unit: string;
}): ReactElement {
  const { series, slots } = props;
  const top = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const x = (i: number, n: number): number =>
    PAD.left + ((W - PAD.left - PAD.right) * (slots - n + i)) / Math.max(1, slots - 1);
  const y = (v: number): number => PAD.top + (H - PAD.top - PAD.bottom) * (1 - v / top);
  const latest = series.map((s) => `${s.name} ${(s.values.at(-1) ?? 0).toFixed(1)} ${props.unit}`).join(', ');
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${props.spanLabel}: ${latest}`}>
      {[0, 0.5, 1].map((f) => (
        <g key={f}>
          <line className="grid" x1={PAD.left} x2={W - PAD.right} y1={y(top * f)} y2={y(top * f)} />
          <text className="axis" x={PAD.left - 6} y={y(top * f) + 4} textAnchor="end">
            {top * f}
          </text>
        </g>
      ))}
      <text className="axis" x={PAD.left} y={H - 4}>
        {props.spanLabel}
      </text>
      <text className="axis" x={W - PAD.right} y={H - 4} textAnchor="end">
        now
      </text>
      {series.map((s) =>
        s.values.length > 1 ? (
          <polyline
            key={s.name}
            className={`line ${s.className}`}
            points={s.values.map((v, i) => `${x(i, s.values.length).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}
          />
        ) : null,
      )}
    </svg>
  );
}
