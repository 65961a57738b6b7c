/** The handle under useTaskStream: a task handle and one of its streams, released together. */
import type { StreamHandle, TaskHandle, TaskwireClient } from '@taskwire/client';

export interface OpenStream {
  readonly task: TaskHandle;
  readonly stream: StreamHandle;
  subscribe(listener: (notice: unknown) => void): () => void;
  release(): void;
}

export function openStream(client: TaskwireClient, id: string, name: string): OpenStream {
  const task = client.task(id);
  const stream = task.stream(name);
  return {
    task,
    stream,
    subscribe(listener) {
      const offTask = task.subscribe((n) => listener(n));
      const offStream = stream.subscribe((s) => listener(s));
      return () => {
        offTask();
        offStream();
      };
    },
    release() {
      stream.release();
      task.release();
    },
  };
}
