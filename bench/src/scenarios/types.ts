import type { Deployment, TargetName } from '../harness.js';

export type Metrics = Record<string, number>;

export interface Column {
  key: string;
  label: string;
  /** Digits after the point. */
  digits: number;
  better: 'higher' | 'lower';
  /** Show the ratio to the scenario's baseline (plain ws unless it names another) next to it. */
  ratio?: boolean;
  /** Put this ratio in the summary table at the top of the report. */
  summary?: boolean;
}

export interface Scenario {
  id: string;
  title: string;
  /** One or two sentences for the report: what is measured, how. */
  what: string;
  targets: TargetName[];
  /** Targets shown with a reason instead of numbers (the scenario does not apply to them). */
  notApplicable?: Partial<Record<TargetName, string>>;
  columns: Column[];
  /** The target every ratio is to (default: ws). */
  baseline?: TargetName;
  /**
   * Diagnostic: the publisher runs inside the server process (no ingest measured). Run
   * once in the default run; named in --scenarios, it gets every repeat.
   */
  diagnostic?: boolean;
  /**
   * Run once in the default run (after the repeats of the others) unless named in
   * --scenarios: every diagnostic, and memory scenarios, whose numbers do not move
   * with a busy machine.
   */
  once?: boolean;
  /** The targets of a diagnostic in the default run (all of `targets` when named in --scenarios). */
  brief?: TargetName[];
  run(d: Deployment): Promise<Metrics>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const now = (): number => performance.timeOrigin + performance.now();
