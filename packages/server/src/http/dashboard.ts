/**
 * The dashboard at `/`: the static files of `@taskwire/dashboard` (a Vite build with
 * relative asset paths), served by @fastify/static in its own encapsulated scope.
 *
 * The directory is found at start: the `dashboardDir` option (the `taskwire` command
 * passes `@taskwire/dashboard`'s), else the installed `@taskwire/dashboard`
 * package's `dist/` when there is one. Routes are registered
 * per file (`wildcard: false`), so `/` never shadows `/docs`, `/metrics`,
 * `/healthz`, `/readyz` or `/api/v1/*` (and unknown `/api/v1/…` paths keep their
 * JSON 404). When the directory has no `index.html`, `/` answers a small page that
 * says how to build it: never a crash. The routes are hidden from the OpenAPI document.
 * A host app that already has `GET /` keeps it (the dashboard is then skipped).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

export interface DashboardOptions {
  /** Serve the dashboard at `/` (default true). */
  dashboard?: boolean;
  /** The built dashboard (a directory with `index.html`). Default: `@taskwire/dashboard/dist`, found at start. */
  dashboardDir?: string;
}

/** Where the dashboard's built files are, or the first place looked when none has them. */
export function resolveDashboardDir(explicit?: string): string {
  if (explicit !== undefined) return path.resolve(explicit);
  try {
    const pkg = createRequire(import.meta.url).resolve('@taskwire/dashboard/package.json');
    return path.join(path.dirname(pkg), 'dist');
  } catch {
    // Not installed: `/` explains how to get it.
    return path.resolve('node_modules/@taskwire/dashboard/dist');
  }
}

const NOT_BUILT = (dir: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>taskwire</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
code{background:#8882;padding:0 .25em;border-radius:3px}@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}}</style>
</head><body>
<h1>taskwire is running</h1>
<p>The dashboard is not built, so there is nothing to show at <code>/</code> yet.
Build it from the repository root with <code>npm run build</code>
(or <code>npm run build -w @taskwire/dashboard</code>), then reload this page.</p>
<p>Looked in <code>${escapeHtml(dir)}</code>.</p>
<p>The server itself works: the API is under <code>/api/v1</code>, described at
<a href="docs"><code>/docs</code></a>; health at <a href="healthz"><code>/healthz</code></a>.</p>
</body></html>
`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page's policy: everything from this origin (the WebSocket included), inline style attributes for bars. */
const CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export async function registerDashboard(app: FastifyInstance, opts: DashboardOptions): Promise<void> {
  if (opts.dashboard === false) return;
  if (app.hasRoute({ method: 'GET', url: '/' })) {
    app.log.info('dashboard: the app already has GET /, so the dashboard is not served');
    return;
  }
  const dir = resolveDashboardDir(opts.dashboardDir);
  await app.register(async (scope) => {
    if (!existsSync(path.join(dir, 'index.html'))) {
      app.log.warn({ dir }, 'dashboard: not built, / explains how to build it');
      scope.get('/', { schema: { hide: true } }, (_req, reply) =>
        reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(NOT_BUILT(dir)),
      );
      return;
    }
    await scope.register(fastifyStatic, {
      root: dir,
      prefix: '/',
      wildcard: false,
      decorateReply: false,
      schemaHide: true,
      cacheControl: false, // set below, per file
      setHeaders(res, file) {
        if (file.endsWith('.html')) {
          res.setHeader('cache-control', 'no-cache');
          res.setHeader('content-security-policy', CSP);
          res.setHeader('x-content-type-options', 'nosniff');
        } else if (file.includes(`${path.sep}assets${path.sep}`)) {
          // Vite puts a content hash in every asset name.
          res.setHeader('cache-control', 'public, max-age=31536000, immutable');
        }
      },
    });
  });
}
