/** Live stats for admins: GET /api/v1/stats every 2 s, the last 5 minutes as a chart. */
import { useEffect, useState, type ReactElement } from 'react';
import type { Stats } from './api.js';
import { LineChart } from './chart.js';
import { useDashboard } from './hooks.js';

const POLL_MS = 2_000;
const SLOTS = 150; // 5 minutes of 2 s samples

interface Sample {
  at: number;
  stats: Stats;
}

export function StatsView(): ReactElement {
  const { api } = useDashboard();
  const [samples, setSamples] = useState<readonly Sample[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    const poll = (): void => {
      api.stats(abort.signal).then(
        (stats) => {
          setSamples((prev) => [...prev.slice(-(SLOTS - 1)), { at: Date.now(), stats }]);
          setError(null);
        },
        (err: unknown) => {
          if (!abort.signal.aborted) setError(err instanceof Error ? err.message : String(err));
        },
      );
    };
    poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [api]);

  const last = samples.at(-1)?.stats;
  const cards: [string, string][] = last
    ? [
        ['Connections', `${last.connections}`],
        ['WS · SSE · long-poll', Object.values(last.connectionsByTransport).join(' · ')],
        ['Subscriptions', `${last.subscriptions}`],
        ['Channels', `${last.channels}`],
        ['Events in / s', last.eventsInPerSecond.toFixed(1)],
        ['Events out / s', last.eventsOutPerSecond.toFixed(1)],
        ['Slow-consumer closes', `${last.slowConsumerCloses}`],
      ]
    : [];
  return (
    <section className="stats" aria-labelledby="stats-h">
      <h2 id="stats-h">Server stats</h2>
      {error && (
        <p className="error" role="alert">
          Stats unavailable: {error}
        </p>
      )}
      {!last && !error && <p className="muted">Loading…</p>}
      {last && (
        <>
          <dl className="cards">
            {cards.map(([k, v]) => (
              <div key={k} className="card">
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
          <div className="charts">
            <figure>
              <LineChart
                spanLabel="last 5 min"
                unit="events/s"
                slots={SLOTS}
                series={[
                  { name: 'in', className: 'in', values: samples.map((s) => s.stats.eventsInPerSecond) },
                  { name: 'out', className: 'out', values: samples.map((s) => s.stats.eventsOutPerSecond) },
                ]}
              />
              <figcaption>
                <span className="key in">events in / s</span> <span className="key out">events out / s</span> (every 2
                s, this node)
              </figcaption>
            </figure>
            <figure>
              <LineChart
                spanLabel="last 5 min"
                unit=""
                slots={SLOTS}
                series={[
                  { name: 'connections', className: 'conns', values: samples.map((s) => s.stats.connections) },
                  { name: 'subscriptions', className: 'subs', values: samples.map((s) => s.stats.subscriptions) },
                ]}
              />
              <figcaption>
                <span className="key conns">connections</span> <span className="key subs">subscriptions</span>
              </figcaption>
            </figure>
          </div>
        </>
      )}
    </section>
  );
}
