/**
 * The browser test page: built with Vite's JS API (the React plugin, development
 * mode so <StrictMode> really double-mounts) into a temp dir, and served by a
 * node:http static server on 127.0.0.1, port 0. The workspace packages resolve to
 * their sources, so the page always runs the code under test.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** `root`: the page's folder (test/browser by default; test/tabs for the tab-sharing page). */
export async function buildPage(outDir: string, root = here('../browser')): Promise<void> {
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    mode: 'development',
    plugins: [react()],
    define: { 'process.env.NODE_ENV': JSON.stringify('development') },
    resolve: {
      alias: {
        '@taskwire/react': here('../../src/index.ts'),
        '@taskwire/client/share': here('../../../client/src/share-entry.ts'),
        '@taskwire/client': here('../../../client/src/index.ts'),
        '@taskwire/protocol': here('../../../protocol/src/index.ts'),
      },
    },
    build: { outDir, emptyOutDir: true, minify: false, reportCompressedSize: false },
  });
}

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

export async function serveDir(dir: string): Promise<StaticServer> {
  const server = http.createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname;
    const file = path.join(dir, path.normalize(name === '/' ? '/index.html' : name));
    readFile(file).then(
      (body) =>
        res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
