/**
 * A TCP proxy for tests (node:net): counts connections, can cut every live
 * connection, cut at random, or stop reading from the server (to build a backlog
 * on the server side, which makes it close a slow consumer with 4009).
 */
import net from 'node:net';

export interface TestProxy {
  readonly port: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Live connections. */
  readonly live: number;
  /** Destroy every live connection (both sides): the client sees 1006. */
  cutAll(): void;
  /** Every `minMs`-`maxMs`, cut each live connection with probability `p`; returns stop(). */
  chaos(minMs: number, maxMs: number, p?: number): () => void;
  /** Let the next connection's request through but cut it when the answer starts: the response is lost. */
  dropNextResponse(): void;
  /** Stop (or resume) reading from the server side of every connection. */
  pauseServer(paused: boolean): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TestProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let accepted = 0;
  let paused = false;
  let dropNext = false;
  const server = net.createServer((client) => {
    accepted += 1;
    const upstream = net.connect(targetPort, targetHost);
    const pair = { client, upstream };
    pairs.add(pair);
    if (paused) upstream.pause();
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    if (dropNext) {
      dropNext = false;
      upstream.once('data', end); // the server did the work; the client never hears of it
    } else upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy is not on TCP');

  const cut = (pair: { client: net.Socket; upstream: net.Socket }): void => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream.destroy();
  };

  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get live() {
      return pairs.size;
    },
    cutAll() {
      for (const pair of Array.from(pairs)) cut(pair);
    },
    chaos(minMs, maxMs, p = 0.5) {
      let timer: NodeJS.Timeout | undefined;
      const tick = (): void => {
        for (const pair of Array.from(pairs)) if (Math.random() < p) cut(pair);
        timer = setTimeout(tick, minMs + Math.random() * (maxMs - minMs));
      };
      timer = setTimeout(tick, minMs + Math.random() * (maxMs - minMs));
      return () => clearTimeout(timer);
    },
    dropNextResponse() {
      dropNext = true;
    },
    pauseServer(value) {
      paused = value;
      for (const { upstream } of pairs) {
        if (value) upstream.pause();
        else upstream.resume();
      }
    },
    async close() {
      for (const pair of Array.from(pairs)) cut(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
