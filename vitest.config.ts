import { defineConfig } from 'vitest/config';

/** Tests that drive the system Chromium (playwright-core). */
const BROWSER = [
  'packages/react/test/browser.test.ts',
  'packages/react/test/tabs.test.ts',
  'packages/react/test/nextjs.test.ts',
  'packages/dashboard/test/e2e.test.ts',
  'packages/dashboard/test/e2e-restart.test.ts',
  'packages/dashboard/test/webhooks-e2e.test.ts',
];

/**
 * Three projects, all run by `npm test`:
 * - `unit`: the tests beside the code (`src/**`), no server process: `npx vitest --project unit` runs in seconds;
 * - `integration`: real servers on port 0, real clients, real redis-server (`test/**`);
 * - `browser`: the React hooks and the dashboard in Chromium.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'bench/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...BROWSER],
        },
      },
      { extends: true, test: { name: 'browser', include: BROWSER } },
    ],
  },
});
