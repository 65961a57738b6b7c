/** The markdown report: machine, versions, command, and per scenario a table of medians with ratios to plain ws. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import type { Metrics, Scenario } from './scenarios/types.js';

export interface ScenarioResult {
  scenario: Scenario;
  /** Per target: every repeat's metrics. */
  samples: Map<string, Metrics[]>;
  errors: Map<string, string>;
}

export const START = '<!-- bench:results:start -->';
export const END = '<!-- bench:results:end -->';

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

export function medians(samples: Metrics[]): Metrics {
  const keys = new Set(samples.flatMap((s) => Object.keys(s)));
  const out: Metrics = {};
  for (const k of keys) out[k] = median(samples.map((s) => s[k] ?? NaN));
  return out;
}

function fmt(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return v.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m?.[1] ?? cpus()[0]?.model ?? 'unknown';
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}

function versionOf(pkg: string): string {
  try {
    const require = createRequire(import.meta.url);
    // Resolve the package directory through its entry point (some packages do not export package.json).
    let dir = require.resolve(pkg);
    for (let i = 0; i < 6; i++) {
      dir = dir.slice(0, dir.lastIndexOf('/'));
      const file = `${dir}/package.json`;
      if (existsSync(file)) {
        const json = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (json.name === pkg) return json.version ?? '?';
      }
    }
  } catch {
    // not installed
  }
  return 'not found';
}

function redisVersion(): string {
  try {
    return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ')[2]?.replace('v=', '') ?? '?';
  } catch {
    return 'not found';
  }
}

export interface ReportContext {
  command: string;
  quick: boolean;
  repeats: number;
  workers: number;
  pinning: string;
  uwsNode: string | null;
  startedAt: Date;
  seconds: number;
  notes: string[];
}

export function renderReport(results: ScenarioResult[], c: ReportContext): string {
  const lines: string[] = [];
  lines.push(
    `### Run of ${c.startedAt.toISOString()}${c.quick ? ' (quick smoke run: tiny sizes, not comparable)' : ''}`,
  );
  lines.push('');
  lines.push(`- Command: \`${c.command}\` (${Math.round(c.seconds)} s)`);
  lines.push(`- Machine: ${cpus().length} × ${cpuModel()}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux`);
  lines.push(
    `- Node ${process.version} (taskwire, ws, Socket.IO, load generator)${c.uwsNode ? `; uWebSockets.js under Node ${c.uwsNode} (native build; none exists for Node 24)` : '; uWebSockets.js skipped (no Node ≤ 20 with its native build)'}`,
  );
  lines.push(
    `- Packages: ws ${versionOf('ws')}, socket.io ${versionOf('socket.io')}, @socket.io/redis-adapter ${versionOf('@socket.io/redis-adapter')}, ioredis ${versionOf('ioredis')}, @trufflesuite/uws-js-unofficial ${versionOf('@trufflesuite/uws-js-unofficial')}, redis-server ${redisVersion()}`,
  );
  lines.push(
    `- ${c.pinning}; ${c.workers} load-generator process(es); medians of ${c.repeats} repeat(s), targets alternated`,
  );
  for (const n of c.notes) lines.push(`- ${n}`);
  lines.push('');
  const label = (t: string): string => (t === 'uws' && c.uwsNode ? `uws (Node ${c.uwsNode})` : t);
  lines.push(...renderSummary(results), '');
  for (const r of results) lines.push(...renderScenario(r, label), '');
  return lines.join('\n');
}

/**
 * The ratio to the baseline (plain ws unless the scenario names another): the median,
 * over rounds, of this target's value over the baseline's value
 * in the same round (runs a few seconds apart), so a machine that drifts between rounds
 * (a shared VM does, by tens of %) moves both sides of each ratio alike.
 */
export function pairedRatio(samples: Metrics[], ws: Metrics[], key: string): number {
  const ratios: number[] = [];
  for (const s of samples) {
    const base = ws.find((w) => w.round === s.round)?.[key];
    const v = s[key];
    if (base !== undefined && v !== undefined && Number.isFinite(base) && base !== 0) ratios.push(v / base);
  }
  return median(ratios);
}

const baselineOf = (s: Scenario): string => s.baseline ?? 'ws';

/**
 * The table at the top: for every summary column of the scenarios that measure what users
 * pay (not the diagnostics), each target's median same-round ratio to the scenario's
 * baseline, and how much of the pinned CPUs other processes took (medians over the runs).
 */
function renderSummary(results: ScenarioResult[]): string[] {
  const out = [
    '#### Summary: ratios to each scenario’s baseline, measured in the same run',
    '',
    'Each ratio is the median over rounds of the target’s value over the baseline’s value in the same round; below 1 is better for CPU, latency and memory, above 1 for rates. "Others" is what other processes (and interrupts, and steal) took of the server CPU / the load-generator CPU during the measured windows, the median over every run of the scenario: a high value marks a noisy machine.',
    '',
    '| scenario | metric | baseline (1.00) | taskwire | others | others on CPUs % (server / load-gen) |',
    '|---|---|---|--:|---|--:|',
  ];
  for (const r of results) {
    const { scenario } = r;
    if (scenario.diagnostic) continue;
    const base = baselineOf(scenario);
    const baseSamples = r.samples.get(base) ?? [];
    const all = [...r.samples.values()].flat();
    const busy = `${fmt(median(all.map((m) => m.othersServerCpu ?? NaN)), 0)} / ${fmt(median(all.map((m) => m.othersLoadCpu ?? NaN)), 0)}`;
    for (const col of scenario.columns) {
      if (!col.summary) continue;
      const ratio = (t: string): string => fmt(pairedRatio(r.samples.get(t) ?? [], baseSamples, col.key), 2);
      const rest = scenario.targets
        .filter((t) => t !== base && t !== 'taskwire' && (r.samples.get(t)?.length ?? 0) > 0)
        .map((t) => `${t} ${ratio(t)}`)
        .join(', ');
      out.push(
        `| ${scenario.id} | ${col.label} (${col.better} is better) | ${base} | ${scenario.targets.includes('taskwire') ? ratio('taskwire') : '–'} | ${rest || '–'} | ${busy} |`,
      );
    }
  }
  return out;
}

function renderScenario(r: ScenarioResult, label: (target: string) => string): string[] {
  const { scenario } = r;
  const base = baselineOf(scenario);
  const out = [`#### ${scenario.title}`, '', scenario.what, ''];
  const head = ['target', 'runs'];
  for (const col of scenario.columns) {
    head.push(col.label);
    if (col.ratio) head.push(`× ${base}`);
  }
  out.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 1 ? '---' : '--:')).join('|')}|`);
  const ws = r.samples.get(base) ?? [];
  for (const target of scenario.targets) {
    const samples = r.samples.get(target) ?? [];
    const error = r.errors.get(target);
    if (samples.length === 0) {
      if (error !== undefined) out.push(`| ${label(target)} | 0 | ${error.replaceAll('|', '/').slice(0, 200)} |`);
      continue;
    }
    const m = medians(samples);
    const row = [label(target), String(samples.length)];
    for (const col of scenario.columns) {
      row.push(fmt(m[col.key], col.digits));
      if (col.ratio) row.push(fmt(pairedRatio(samples, ws, col.key), 2));
    }
    out.push(`| ${row.join(' | ')} |`);
  }
  for (const [target, why] of Object.entries(scenario.notApplicable ?? {}))
    out.push(`| ${label(target)} | – | ${why} |`);
  const flags: string[] = [];
  for (const [target, samples] of r.samples) {
    const ooo = Math.max(...samples.map((s) => s.outOfOrder ?? 0));
    const closes = Math.max(...samples.map((s) => s.closes ?? 0));
    if (ooo > 0) flags.push(`${target}: ${ooo} events out of offset order`);
    if (closes > 0) flags.push(`${target}: ${closes} connections closed by the server`);
    const short = samples.filter((s) => (s.shortfall ?? 0) > 0).length;
    if (short > 0)
      flags.push(
        `${target}: under 90 % of the offered rate delivered in ${short} of ${samples.length} run(s) (saturated: its numbers are at a lower load)`,
      );
  }
  for (const [target, error] of r.errors)
    if ((r.samples.get(target)?.length ?? 0) > 0) flags.push(`${target}: a repeat failed: ${error}`);
  if (flags.length) out.push('', `Flags: ${flags.join('; ')}.`);
  return out;
}

const FILE_HEAD = `# Performance

How taskwire compares with a plain \`ws\` broadcast loop, Socket.IO 4 and
uWebSockets.js, measured by \`bench/\` (\`npm run bench\`). The section between the
markers below is rewritten by the harness on every full run; everything else is
written by hand.

`;

/** Replace the results section of `file` (creating the file, or the markers, if missing). */
export function writeResults(file: string, section: string): void {
  const body = `${START}\n\n${section}\n${END}`;
  if (!existsSync(file)) {
    writeFileSync(file, `${FILE_HEAD}## Results\n\n${body}\n`);
    return;
  }
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next =
    a >= 0 && b > a
      ? text.slice(0, a) + body + text.slice(b + END.length)
      : `${text.trimEnd()}\n\n## Results\n\n${body}\n`;
  writeFileSync(file, next);
}
