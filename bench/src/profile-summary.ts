/**
 * `node bench/dist/profile-summary.js FILE.cpuprofile [N]`: self time of a V8 CPU
 * profile by function (top N) and by area (taskwire package, ws, node internals,
 * GC, idle), to keep the hot path of a run in docs/performance.md.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function area(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (url === 'node:inspector') return 'profiler';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'native/program';
  const pkg = /packages\/([^/]+)\//.exec(url);
  if (pkg && !url.includes('node_modules')) return `@taskwire/${pkg[1]}`;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (mod) return mod[1] as string;
  if (url.startsWith('node:')) return 'node internals';
  if (url === '') return 'native/builtins';
  return url.replace(/^.*\//, '');
}

export function summarize(p: CpuProfile, top: number): string {
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const byNode = new Map(p.nodes.map((n) => [n.id, n]));
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byNode.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const a = area(url, functionName);
    if (a === 'idle' || a === 'profiler') {
      // The profiler's own work (stopping it, serializing the profile) is not the server's.
      if (a === 'idle') idle += us;
      continue;
    }
    total += us;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|packages)\//, '')}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    byArea.set(a, (byArea.get(a) ?? 0) + us);
  }
  const pct = (us: number): string => `${((100 * us) / Math.max(1, total)).toFixed(1)} %`;
  const lines = [
    `busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`,
    '',
    '| area | self time |',
    '|---|--:|',
    ...[...byArea]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([k, v]) => `| ${k} | ${pct(v)} |`),
    '',
    '| function | self time |',
    '|---|--:|',
    ...[...byFn]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `| \`${k}\` | ${pct(v)} |`),
  ];
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('profile-summary.js')) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/dist/profile-summary.js FILE.cpuprofile [top]');
    process.exit(2);
  }
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 25)));
}
