#!/usr/bin/env node
/**
 * Size budget: bundles the built entry point (dist/, run `tsc -b` first) the way an
 * app's bundler would, minified, then gzips it. react, react/jsx-runtime and
 * @taskwire/client are the app's own dependencies, so they are left out (external).
 * Fails when @taskwire/react is over 2 kB (min+gzip). Uses rolldown (a root dev
 * dependency).
 *
 *   node packages/react/scripts/size.mjs
 */
/* global console */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { gzipSync } from 'node:zlib';
import { URL, fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const NAME = '@taskwire/react';
const LIMIT = 2 * 1024;
const EXTERNAL = /^(react|react-dom|@taskwire\/client)(\/|$)/;

const bundle = await rolldown({
  input: fileURLToPath(new URL('../dist/index.js', import.meta.url)),
  external: (id) => EXTERNAL.test(id),
  logLevel: 'silent',
});
const { output } = await bundle.generate({ format: 'esm', minify: true });
await bundle.close();
const code = output.map((chunk) => (chunk.type === 'chunk' ? chunk.code : '')).join('');
const min = Buffer.byteLength(code);
const gz = gzipSync(code, { level: 9 }).length;
const ok = gz <= LIMIT;
const kb = (n) => `${(n / 1024).toFixed(2)} kB`;
console.log(`${ok ? 'ok  ' : 'FAIL'} ${NAME}: ${kb(min)} min, ${kb(gz)} min+gzip (limit ${kb(LIMIT)})`);
// The externals must stay imports: a bundled copy of React would be a second React.
const bundled = !/from\s*["']react["']/.test(code) || !/from\s*["']@taskwire\/client["']/.test(code);
if (bundled) console.log(`FAIL ${NAME}: react or @taskwire/client was bundled instead of imported`);
process.exit(ok && !bundled ? 0 : 1);
