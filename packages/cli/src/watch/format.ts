/** How `taskwire watch` describes a task: the same words on a terminal and in plain lines. */
import type { Task } from '@taskwire/protocol';

/** Control characters (ANSI escapes, newlines) from a worker's text never reach the terminal. */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
}

export function percent(task: Task): string {
  return task.progress === null ? '-' : String(Math.round(task.progress * 10) / 10);
}

/** `stage — message`, or what matters more in this status (the approval prompt, the error). */
export function detail(task: Task): string {
  const stage = clean(task.stage ?? '-') || '-';
  let message = task.message ?? '';
  if (task.status === 'awaiting_approval' && task.approval) message = `approval: ${task.approval.prompt}`;
  if (task.status === 'failed' && task.error) message = `error: ${task.error.message}`;
  return `${stage} — ${clean(message)}`;
}

/** The plain (non-TTY) line: `<id> <status> <progress>% <stage> — <message>`. */
export function plainLine(task: Task): string {
  return `${clean(task.id)} ${task.status} ${percent(task)}% ${detail(task)}`.trimEnd();
}

/** Exit status for a task that ended: 0 succeeded, 1 failed or cancelled. */
export function exitCodeOf(task: Task): 0 | 1 {
  return task.status === 'succeeded' ? 0 : 1;
}
