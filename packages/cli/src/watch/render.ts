/**
 * Renderers for `taskwire watch`: progress bars (cli-progress) on a terminal, plain
 * lines otherwise. Both take every snapshot and decide what to show.
 */
import cliProgress from 'cli-progress';
import { isTerminalStatus, type Task } from '@taskwire/protocol';
import { clean, detail, percent, plainLine } from './format.js';

export interface Renderer {
  /** A task's latest snapshot (called on every change; repeats are harmless). */
  update(task: Task): void;
  /** A line of text (a log line, a notice): above the bars on a terminal. */
  note(text: string): void;
  /** Final render; restores the cursor. Idempotent. */
  stop(): void;
}

/** The stream a terminal renderer draws on (process.stdout, or a fake in tests). */
export type TtyStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };

/** Plain lines: one per change of what a task's line says, no ANSI. */
export function plainRenderer(write: (line: string) => void): Renderer {
  const last = new Map<string, string>();
  return {
    update(task) {
      const line = plainLine(task);
      if (last.get(task.id) === line) return;
      last.set(task.id, line);
      write(line);
    },
    note: (text) => write(clean(text)),
    stop: () => undefined,
  };
}

const ICON: Partial<Record<Task['status'], string>> = { succeeded: '✔', failed: '✖', cancelled: '■' };

export interface TtyOptions {
  /** Watching many tasks: finished ones leave the bars for a line above them. */
  multi: boolean;
}

/** Progress bars: one per task, with its status, stage and message beside it. */
export function ttyRenderer(stream: TtyStream, opts: TtyOptions): Renderer {
  const bars = new cliProgress.MultiBar(
    {
      stream,
      format: ' {bar} {pct}  {id}  {status}  {detail}',
      barsize: 24,
      hideCursor: true,
      gracefulExit: false,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const shown = new Map<string, cliProgress.SingleBar>();
  const maxBars = (): number => Math.max(3, (stream.rows ?? 24) - 2);
  let stopped = false;
  const payload = (task: Task): Record<string, string> => ({
    id: clean(task.id),
    pct: `${percent(task)}%`.padStart(6),
    status: task.status,
    detail: detail(task),
  });
  return {
    update(task) {
      if (stopped) return;
      const value = task.progress ?? 0;
      let bar = shown.get(task.id);
      if (opts.multi && isTerminalStatus(task.status)) {
        // Finished: a line above the bars, and its bar goes away.
        if (bar) {
          bars.remove(bar);
          shown.delete(task.id);
        }
        bars.log(`${ICON[task.status] ?? ' '} ${plainLine(task)}\n`);
        return;
      }
      if (!bar) {
        if (shown.size >= maxBars()) return; // a later update shows it once a bar is free
        bar = bars.create(100, value, payload(task));
        shown.set(task.id, bar);
      } else bar.update(value, payload(task));
    },
    note(text) {
      if (!stopped) bars.log(`${clean(text)}\n`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bars.update(); // flush lines logged since the last frame
      bars.stop();
    },
  };
}
