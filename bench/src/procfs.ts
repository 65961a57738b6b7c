/** Per-process CPU time and memory from /proc (Linux). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time of a process (all its threads), in microseconds: in user space, and in the kernel on its behalf. */
export interface CpuTime {
  user: number;
  system: number;
  /** Minor page faults (first touches of memory: the kernel zeroes and maps a page). */
  faults: number;
}

export function cpuTime(pid: number): CpuTime {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is index 0, so utime (field 14) is index 11 and stime index 12.
  const us = 1e6 / clockTicks();
  // minflt (field 10) is index 7.
  return { user: Number(fields[11]) * us, system: Number(fields[12]) * us, faults: Number(fields[7]) };
}

/** utime + stime of a process (all its threads), in microseconds. */
export function cpuMicros(pid: number): number {
  const t = cpuTime(pid);
  return t.user + t.system;
}

/** Current and peak resident set size, bytes (VmRSS, VmHWM). */
export function memory(pid: number): { rss: number; peakRss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
}

/** Sum over several processes (two taskwire nodes and Redis, say). */
export function cpuMicrosOf(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += cpuMicros(pid);
  return sum;
}

export function cpuTimeOf(pids: readonly number[]): CpuTime {
  const sum = { user: 0, system: 0, faults: 0 };
  for (const pid of pids) {
    const t = cpuTime(pid);
    sum.user += t.user;
    sum.system += t.system;
    sum.faults += t.faults;
  }
  return sum;
}

/** CPU time of one thread of a process (`tid` = `pid`: its main thread, where the JavaScript runs), µs. */
export function threadCpuMicros(pid: number, tid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * (1e6 / clockTicks());
  } catch {
    return NaN;
  }
}

/**
 * Busy time of each CPU from /proc/stat, µs: everything but idle and iowait (user,
 * nice, system, irq, softirq and steal: time the hypervisor gave another machine).
 */
export function cpuBusy(): Map<number, number> {
  const out = new Map<number, number>();
  const us = 1e6 / clockTicks();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const v = (m[2] ?? '').trim().split(/\s+/).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = v;
    out.set(Number(m[1]), (user + nice + system + irq + softirq + steal) * us);
  }
  return out;
}

/** The CPUs of a taskset list such as `0`, `1-3` or `0,2`. */
export function cpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isFinite(a)) continue;
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}
