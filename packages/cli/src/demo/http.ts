/**
 * The demo's own HTTP connections: a FetchLike over node:http with an agent the
 * demo owns, so `close()` destroys every socket it opened. (With the global fetch,
 * a socket opened just before a stop could stay connected with no request on it,
 * and the server's graceful close would wait for it.)
 */
import http from 'node:http';
import https from 'node:https';
import type { FetchLike } from '@taskwire/client/backend';

export interface OwnedFetch {
  fetch: FetchLike;
  /** Abort every request under way and destroy every socket. */
  close(): void;
}

export function ownedFetch(signal: AbortSignal): OwnedFetch {
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const fetch: FetchLike = (url, init) =>
    new Promise<Response>((resolve, reject) => {
      if (signal.aborted) return reject(new Error('demo stopped'));
      const u = new URL(url);
      const secure = u.protocol === 'https:';
      const body = typeof init.body === 'string' ? init.body : undefined;
      const headers = new Headers(init.headers);
      const req = (secure ? https : http).request(
        u,
        {
          method: init.method ?? 'GET',
          headers: Object.fromEntries(headers.entries()),
          agent: secure ? agents.https : agents.http,
          signal: init.signal ? AbortSignal.any([init.signal, signal]) : signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 500;
            const out = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (typeof value === 'string') out.set(name, value);
              else if (Array.isArray(value)) for (const v of value) out.append(name, v);
            }
            const empty = status === 204 || status === 205 || status === 304;
            resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers: out }));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return {
    fetch,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
