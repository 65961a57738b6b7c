/** The size budget runs with the tests: @taskwire/react ≤ 2 kB min+gzip, react and @taskwire/client external. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../scripts/size.mjs', import.meta.url));

describe('package size', () => {
  it('bundles @taskwire/react within its 2 kB min+gzip budget, with react and the client left external', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [script]);
    expect(stdout).toMatch(/^ok\s+@taskwire\/react:/m);
  });
});
