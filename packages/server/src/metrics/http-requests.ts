/**
 * `taskwire_http_requests_total{method,route,status}`, counted in plain numbers: each
 * answered request finds its cell by route pattern, method and status in three small
 * maps and adds one (prom-client's `inc` hashes the three labels into a string on
 * every call), and the counter is filled from the cells when Prometheus scrapes, in
 * the order the series were first seen, as prom-client lists them.
 */
import { Counter, type Registry } from 'prom-client';

interface Cell {
  readonly labels: { method: string; route: string; status: string };
  n: number;
}

export class HttpRequestCounter {
  private readonly byRoute = new Map<string, Map<string, Map<number, Cell>>>();
  private readonly cells: Cell[] = [];

  constructor(registers: Registry[]) {
    const cells = this.cells;
    new Counter({
      name: 'taskwire_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
      collect() {
        this.reset();
        for (const c of cells) this.inc(c.labels, c.n);
      },
    });
  }

  /** One answered request: its method, route pattern (`unmatched` for none) and status code. */
  count(method: string, route: string, status: number): void {
    let byMethod = this.byRoute.get(route);
    if (byMethod === undefined) this.byRoute.set(route, (byMethod = new Map<string, Map<number, Cell>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, Cell>()));
    let cell = byStatus.get(status);
    if (cell === undefined) {
      cell = { labels: { method, route, status: String(status) }, n: 0 };
      byStatus.set(status, cell);
      this.cells.push(cell);
    }
    cell.n += 1;
  }
}
