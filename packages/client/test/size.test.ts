/** The size budget runs with the tests: @taskwire/client ≤ 8 kB and the backend client ≤ 8 kB, min+gzip. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../scripts/size.mjs', import.meta.url));

describe('package size', () => {
  it('bundles @taskwire/client within its 8 kB min+gzip budget, without typebox', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [script]);
    expect(stdout).toMatch(/@taskwire\/client\b/);
  });
});
