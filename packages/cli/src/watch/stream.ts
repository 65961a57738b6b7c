/** A task stream printed line by line as it grows (`taskwire watch <task>`). */
import type { StreamHandle, TaskHandle } from '@taskwire/client';

export interface PrintedStream {
  /** Resolves once the stream is complete and printed (or after `ms`), the last partial line flushed. */
  settled(ms: number): Promise<void>;
  release(): void;
}

export function printStream(task: TaskHandle, name: string, line: (text: string) => void): PrintedStream {
  const stream: StreamHandle = task.stream(name);
  let printed = 0;
  let partial = '';
  let waiters: Array<() => void> = [];
  const flush = (): void => {
    if (partial !== '') line(partial);
    partial = '';
  };
  const off = stream.subscribe((s) => {
    const fresh = s.text.slice(printed);
    printed = s.text.length;
    const lines = (partial + fresh).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) line(l);
    if (s.done) {
      flush();
      for (const w of waiters.splice(0)) w();
    }
  });
  return {
    settled(ms) {
      if (stream.getSnapshot().done) return Promise.resolve(flush());
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          flush();
          resolve();
        }, ms);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    release() {
      off();
      stream.release();
      waiters = [];
    },
  };
}
