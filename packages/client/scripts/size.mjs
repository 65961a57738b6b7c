#!/usr/bin/env node
/**
 * Size budget: bundles the built entry points (dist/, run `tsc -b` first) the way an
 * app's bundler would, @taskwire/protocol included, minified, then gzips the result.
 * Fails when @taskwire/client is over 8 kB (min+gzip), @taskwire/client/fallback
 * (the core with SSE and long-poll) over 10 kB, or @taskwire/client/share (the core
 * with tab sharing) over 14 kB. Uses rolldown, which vitest (through
 * vite) already installs; no extra dev dependency.
 *
 *   node packages/client/scripts/size.mjs
 */
/* global console */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { gzipSync } from 'node:zlib';
import { URL, fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const BUDGETS = [
  { entry: '../dist/index.js', name: '@taskwire/client', limit: 8 * 1024 },
  { entry: '../dist/backend/index.js', name: '@taskwire/client/backend', limit: 8 * 1024 },
  // The core plus SSE and long-poll: what an app that imports createClient from here ships.
  { entry: '../dist/fallback-entry.js', name: '@taskwire/client/fallback', limit: 10 * 1024 },
  // The core plus tab sharing (the election, the leader's mux, the follower).
  { entry: '../dist/share-entry.js', name: '@taskwire/client/share', limit: 14 * 1024 },
];

let failed = false;
for (const { entry, name, limit } of BUDGETS) {
  const bundle = await rolldown({ input: fileURLToPath(new URL(entry, import.meta.url)), logLevel: 'silent' });
  const { output } = await bundle.generate({ format: 'esm', minify: true });
  await bundle.close();
  const code = output.map((chunk) => (chunk.type === 'chunk' ? chunk.code : '')).join('');
  const min = Buffer.byteLength(code);
  const gz = gzipSync(code, { level: 9 }).length;
  const ok = gz <= limit;
  failed ||= !ok;
  const kb = (n) => `${(n / 1024).toFixed(2)} kB`;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${kb(min)} min, ${kb(gz)} min+gzip (limit ${kb(limit)})`);
  if (/typebox/i.test(code)) {
    console.log(`FAIL ${name}: the bundle pulls in typebox (import only pure modules of @taskwire/protocol)`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
