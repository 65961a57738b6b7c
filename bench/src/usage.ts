/**
 * Who used the CPUs during a measured window: the server processes (pinned to the
 * server CPU), the load generator (client workers, publishers and this orchestrating
 * process, pinned to the client CPUs), and everything else on those CPUs: the other
 * processes of a shared machine, interrupts not charged to a process, and steal
 * time. A round whose "others" column is high was measured on a busy machine.
 */
import { cpuSets } from './children.js';
import { cpuBusy, cpuList, cpuMicrosOf, threadCpuMicros } from './procfs.js';

export interface UsageProbe {
  serverPids: number[];
  /** The first server node: its main thread's share is reported. */
  mainPid: number;
  loadPids: number[];
}

interface Reading {
  at: number;
  server: number;
  main: number;
  mainProcess: number;
  load: number;
  busy: Map<number, number>;
}

function read(p: UsageProbe): Reading {
  return {
    at: performance.now(),
    server: cpuMicrosOf(p.serverPids),
    main: threadCpuMicros(p.mainPid, p.mainPid),
    mainProcess: cpuMicrosOf([p.mainPid]),
    load: cpuMicrosOf(p.loadPids),
    busy: cpuBusy(),
  };
}

/** Start a window; the returned function ends it and gives the usage columns (percent). */
export function startUsage(p: UsageProbe): () => Record<string, number> {
  const a = read(p);
  return () => {
    const b = read(p);
    const wall = Math.max(1, (b.at - a.at) * 1000);
    const sets = cpuSets();
    const serverCpus = sets ? cpuList(sets.server) : [];
    const loadCpus = sets ? cpuList(sets.clients) : [];
    const busyOf = (cpus: number[]): number =>
      cpus.reduce((s, c) => s + (b.busy.get(c) ?? 0) - (a.busy.get(c) ?? 0), 0);
    const server = b.server - a.server;
    const load = b.load - a.load;
    const pct = (us: number, cpus: number): number => (100 * us) / wall / Math.max(1, cpus);
    return {
      serverBusy: pct(server, 1),
      mainThread: (100 * (b.main - a.main)) / Math.max(1, b.mainProcess - a.mainProcess),
      loadBusy: pct(load, Math.max(1, loadCpus.length)),
      // Not pinned (no taskset): nothing to attribute, NaN ("–").
      othersServerCpu: serverCpus.length ? pct(Math.max(0, busyOf(serverCpus) - server), serverCpus.length) : NaN,
      othersLoadCpu: loadCpus.length ? pct(Math.max(0, busyOf(loadCpus) - load), loadCpus.length) : NaN,
    };
  };
}
