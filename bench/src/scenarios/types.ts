import type { Deployment, TargetName } from '../harness.js';

export type Metrics = Record<string, number>;

export interface Column {
  key: string;
  label: string;
  /** Digits after the point. */
  digits: number;
  better: 'higher' | 'lower';
  /** Show the ratio to plain ws next to it. */
  ratio?: boolean;
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
  run(d: Deployment): Promise<Metrics>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const now = (): number => performance.timeOrigin + performance.now();
