/**
 * A newcomer's first screen: `taskwire serve --dev` on a terminal prints its banner
 * first, then human-readable log lines (pino-pretty); anywhere else, JSON lines; and
 * `npm install` has nothing to warn about (every install script is decided).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, cleanEnv } from './helpers/run-cli.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Start a process and resolve with its output once `done` holds for it (bounded). */
function outputUntil(command: string, args: string[], done: (out: string) => boolean): Promise<string> {
  const child = spawn(command, args, { env: cleanEnv({ TERM: 'xterm' }), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no expected output in time:\n${out}`)), 20_000);
    const onData = (b: Buffer): void => {
      out += b.toString();
      if (done(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', () => reject(new Error(`exited early:\n${out}`)));
  });
}

const SERVE = ['serve', '--dev', '--engine', 'memory', '--port', '0'];
/** Strip terminal colours. */
// eslint-disable-next-line no-control-regex -- ANSI escapes start with ESC
const plain = (s: string): string => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

describe('taskwire serve output', () => {
  it.skipIf(!hasScript)('on a terminal in --dev: the banner first, then pretty log lines, no JSON', async () => {
    const command = [process.execPath, BIN, ...SERVE].map((a) => `'${a}'`).join(' ');
    const out = plain(
      await outputUntil('script', ['-qfec', command, '/dev/null'], (o) => /INFO.*taskwire listening/.test(plain(o))),
    );
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    expect(lines[0]).toMatch(/^taskwire listening on http:\/\/127\.0\.0\.1:\d+ \(engine memory, dev mode\)$/);
    expect(out.indexOf('Admin token:')).toBeLessThan(out.search(/INFO/));
    expect(lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
  });

  it('without a terminal: the banner first, then one JSON object per log line', async () => {
    const out = await outputUntil(process.execPath, [BIN, ...SERVE], (o) => o.includes('"msg":"taskwire listening"'));
    expect(out.startsWith('taskwire listening on ')).toBe(true);
    const json = out.split('\n').filter((l) => l.startsWith('{'));
    expect(json.length).toBeGreaterThan(0);
    for (const l of json) expect(() => JSON.parse(l) as unknown).not.toThrow();
  });

  it('--log-format pretty gives pretty lines anywhere; --log-format json JSON on a terminal too', async () => {
    const pretty = await outputUntil(process.execPath, [BIN, ...SERVE, '--log-format', 'pretty'], (o) =>
      /INFO.*taskwire listening/.test(o),
    );
    expect(pretty.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    if (hasScript) {
      const command = [process.execPath, BIN, ...SERVE, '--log-format', 'json'].map((a) => `'${a}'`).join(' ');
      const json = plain(
        await outputUntil('script', ['-qfec', command, '/dev/null'], (o) => o.includes('"msg":"taskwire listening"')),
      );
      expect(json).toMatch(/^\{"level":30/m);
    }
  });
});

describe('npm install', () => {
  it('has a recorded decision for every install script (npm install-scripts ls lists none)', () => {
    const out = execFileSync('npm', ['install-scripts', 'ls'], { cwd: ROOT, encoding: 'utf8' });
    expect(out).not.toMatch(/not yet covered/);
  });
});
