import { fileURLToPath } from 'node:url';

/**
 * The taskwire packages are linked from this repository (`file:../../packages/…`),
 * outside this app's folder: the repository root is the root Turbopack resolves
 * and traces files from. An app that installs them from a registry needs neither.
 * @type {import('next').NextConfig}
 */
const root = fileURLToPath(new URL('../..', import.meta.url));

export default {
  reactStrictMode: true,
  turbopack: { root },
  outputFileTracingRoot: root,
};
