/**
 * `npm run bench` (the full suite, writes docs/performance.md) and
 * `npm run bench -- --quick` / BENCH_QUICK=1 (a few-second smoke run, prints only).
 *
 * Options: --quick, --targets a,b (filter), --scenarios s1,s2 (ids or id prefixes, `all`;
 * --quick alone runs fan-out at max rate and many channels),
 * --repeats N, --workers N, --out FILE (write the results section there),
 * --json FILE (raw medians), --budget SECONDS (no new round of a scenario starts after it; default 500),
 * --profile DIR (a --cpu-prof profile of every target process into DIR).
 * Diagnostic scenarios (publisher in the server process) run once, after the repeats
 * of the others, unless named in --scenarios.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSets, findUwsNode, pin } from './children.js';
import { Deployment, TARGETS, type Environment, type TargetName } from './harness.js';
import { medians, renderReport, writeResults, type ScenarioResult } from './report.js';
import { RUN_FIRST, suite } from './scenarios/suite.js';
import type { Metrics, Scenario } from './scenarios/types.js';

const dist = dirname(fileURLToPath(import.meta.url));
const root = resolve(dist, '../..');

interface Args {
  quick: boolean;
  targets: string[] | null;
  scenarios: string[] | null;
  repeats: number;
  workers: number;
  out: string | null;
  json: string | null;
  budget: number;
  profile: string | null;
}

/**
 * `npm run bench -- --quick` reaches this process through a nested `npm run … -w`,
 * which takes the flags as its own configuration: they arrive as npm_config_<name>.
 */
function fromNpm(name: string): string | undefined {
  const v = process.env[`npm_config_${name.slice(2)}`];
  return v === undefined || v === '' ? undefined : v;
}

function parseArgs(argv: string[]): Args {
  const quick = argv.includes('--quick') || process.env.BENCH_QUICK === '1' || fromNpm('--quick') === 'true';
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : (argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? fromNpm(name));
  };
  const list = (name: string): string[] | null => value(name)?.split(',').filter(Boolean) ?? null;
  const n = (name: string, d: number): number => {
    const v = Number(value(name));
    return Number.isFinite(v) && v > 0 ? v : d;
  };
  return {
    quick,
    targets: list('--targets'),
    scenarios: list('--scenarios'),
    repeats: n('--repeats', quick ? 1 : 3),
    workers: n('--workers', Math.max(1, Math.min(4, cpus().length - 1))),
    out: value('--out') ?? (quick ? null : join(root, 'docs/performance.md')),
    json: value('--json') ?? null,
    budget: n('--budget', quick ? 120 : 500),
    profile: value('--profile') ?? null,
  };
}

const RUN_TIMEOUT_MS = 180_000;
const QUICK_DEFAULT = ['rooms-300-ws-max', 'tasks-300-http-max'];

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const debug = process.env.BENCH_DEBUG === '1';

async function runOnce(scenario: Scenario, target: TargetName, env: Environment): Promise<Metrics> {
  const t0 = Date.now();
  const d = await Deployment.start(TARGETS[target], env);
  const t1 = Date.now();
  try {
    return await withTimeout(scenario.run(d), RUN_TIMEOUT_MS, `${scenario.id} on ${target}`);
  } finally {
    const t2 = Date.now();
    await d.stop();
    if (debug) process.stdout.write(`(start ${t1 - t0} ms, run ${t2 - t1} ms, stop ${Date.now() - t2} ms) `);
  }
}

function short(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const t0 = Date.now();
  const jwtSecret = randomBytes(24).toString('base64url');
  // This process polls the workers during each window: it runs beside them, on the client CPUs.
  pin(process.pid, cpuSets()?.clients);
  const uwsBinary = (abi: string): string =>
    join(
      root,
      `node_modules/@trufflesuite/uws-js-unofficial/binaries/uws_${process.platform}_${process.arch}_${abi}.node`,
    );
  const uwsNode = findUwsNode(uwsBinary);
  const env: Environment = {
    dist,
    workers: args.workers,
    jwtSecret,
    runId: randomBytes(6).toString('base64url'),
    uws: uwsNode,
    profileDir: args.profile ? resolve(args.profile) : null,
  };
  if (env.profileDir) mkdirSync(env.profileDir, { recursive: true });
  const notes: string[] = [];
  if (!uwsNode)
    notes.push('uws: skipped, no Node ≤ 20 with a native uWebSockets.js build was found (set BENCH_UWS_NODE)');

  // Quick: two scenarios unless asked for others (`--scenarios all` runs every quick one).
  const wanted = args.scenarios ?? (args.quick ? QUICK_DEFAULT : null);
  const selected = suite(args.quick).filter(
    (s) => !wanted || wanted.includes('all') || wanted.some((p) => s.id === p || s.id.startsWith(p)),
  );
  // A diagnostic that was not named runs its brief set of targets.
  const named = (id: string): boolean =>
    args.scenarios?.some((p) => p !== 'all' && (id === p || id.startsWith(p))) ?? false;
  const results: ScenarioResult[] = selected.map((scenario) => ({
    scenario: {
      ...scenario,
      targets: (scenario.brief && !named(scenario.id) ? scenario.brief : scenario.targets).filter(
        (t) => (!args.targets || args.targets.includes(t)) && (t !== 'uws' || env.uws !== null),
      ),
    },
    samples: new Map(),
    errors: new Map(),
  }));
  // Rounds: every scenario's first repeat, then every scenario's second, …, so that when the
  // time budget runs out every scenario has the same number of repeats (at least one).
  const rank = (r: ScenarioResult): number => {
    const i = RUN_FIRST.findIndex((prefix) => r.scenario.id.startsWith(prefix));
    return i < 0 ? RUN_FIRST.length : i;
  };
  const runOrder = [...results].sort((a, b) => rank(a) - rank(b));
  // Diagnostic (and memory) scenarios run once, after every round of the others, unless named in --scenarios.
  const once = (r: ScenarioResult): boolean => r.scenario.once === true && !named(r.scenario.id);
  const rounds: Array<{ round: number; results: ScenarioResult[] }> = [];
  for (let r = 0; r < args.repeats; r++) rounds.push({ round: r, results: runOrder.filter((x) => !once(x)) });
  rounds.push({ round: 0, results: runOrder.filter(once) });
  for (const { round: r, results: list } of rounds) {
    for (const result of list) {
      const { scenario } = result;
      if (r > 0 && (Date.now() - t0) / 1000 > args.budget) {
        notes.push(`${scenario.id}: ${r} repeat(s) only (time budget)`);
        continue;
      }
      // Alternate: each repeat starts with the next target.
      const targets = scenario.targets;
      const order = targets.map((_, i) => targets[(i + r) % targets.length] as TargetName);
      for (const target of order) {
        process.stdout.write(`[${Math.round((Date.now() - t0) / 1000)}s] ${scenario.id} ${target} #${r + 1} … `);
        try {
          const m = await runOnce(scenario, target, env);
          const samples = result.samples.get(target) ?? [];
          samples.push({ ...m, round: r });
          result.samples.set(target, samples);
          console.log(summary(scenario, m));
        } catch (err) {
          result.errors.set(target, short(err));
          console.log(`FAILED: ${short(err)}`);
        }
      }
    }
  }
  const sets = cpuSets();
  const section = renderReport(results, {
    command: commandLine(args),
    quick: args.quick,
    repeats: args.repeats,
    workers: args.workers,
    pinning: sets
      ? `Servers (and redis-server) pinned to CPU ${sets.server}, load generator to CPU ${sets.clients} (taskset)`
      : 'No CPU pinning (taskset missing or one CPU)',
    uwsNode: uwsNode?.version ?? null,
    startedAt: started,
    seconds: (Date.now() - t0) / 1000,
    notes,
  });
  console.log(`\n${section}`);
  if (args.out) {
    writeResults(args.out, section);
    console.log(`results written to ${args.out}`);
  }
  if (args.json) {
    const json = results.map((r) => ({
      id: r.scenario.id,
      targets: Object.fromEntries(
        r.scenario.targets.map((t) => [
          t,
          {
            runs: r.samples.get(t)?.length ?? 0,
            medians: medians(r.samples.get(t) ?? []),
            error: r.errors.get(t) ?? null,
          },
        ]),
      ),
    }));
    writeFileSync(args.json, JSON.stringify(json, null, 2));
  }
}

/** The command that reproduces this run (flags given directly or through npm). */
function commandLine(a: Args): string {
  const flags: string[] = [];
  if (a.quick) flags.push('--quick');
  if (a.scenarios) flags.push('--scenarios', a.scenarios.join(','));
  if (a.targets) flags.push('--targets', a.targets.join(','));
  for (const name of ['--repeats', '--workers', '--budget']) {
    const given = process.argv.includes(name) || process.argv.some((x) => x.startsWith(`${name}=`)) || fromNpm(name);
    if (given) flags.push(name, String(a[name.slice(2) as 'repeats' | 'workers' | 'budget']));
  }
  return `npm run bench${flags.length ? ` -- ${flags.join(' ')}` : ''}`;
}

function summary(s: Scenario, m: Metrics): string {
  return s.columns.map((c) => `${c.label} ${(m[c.key] ?? NaN).toFixed(c.digits)}`).join(', ');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
