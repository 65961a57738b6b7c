'use client';
/**
 * The live progress bar. `initial` is the snapshot the server read for this
 * render, so the server's HTML and the first client render already show the
 * progress; useTask then follows every change over the shared WebSocket.
 */
import type { Task } from '@taskwire/client';
import { useTask } from '@taskwire/react';

export function JobProgress({ id, initial }: { id: string; initial: Task }) {
  const { task, error } = useTask(id, { initial });
  if (error) return <p role="alert">{error.code}</p>;
  if (!task) return null; // never: `initial` stands in until the live snapshot arrives
  return (
    <div id="job" data-status={task.status} data-progress={task.progress ?? 0}>
      <progress max={100} value={task.progress ?? 0} style={{ width: '100%' }} />
      <p>
        {task.status} · {task.progress ?? 0}% {task.message ? `· ${task.message}` : ''}
      </p>
    </div>
  );
}
