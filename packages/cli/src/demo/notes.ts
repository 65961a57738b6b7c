/**
 * The demo's streamed task (protocol 1.1 streams): "Draft the release notes", an
 * LLM-like writer that appends a few words every 50-150 ms to the stream `output`
 * (about 3 KB in all, some 20 s at speed 1) while its progress follows the text.
 */
import type { TaskwireBackend } from '@taskwire/client/backend';
import { between, type Clock } from './clock.js';
import type { WorkerEnd } from './worker.js';

export const NOTES_TITLE = 'Draft the release notes';
export const NOTES_OWNER = 'carol';
export const NOTES_STREAM = 'output';

const HIGHLIGHTS = [
  'Batches: a task can have children, and its progress is the mean of theirs, so "generate 12 concept pages" is one row with one bar.',
  'Streams: a task can stream its output, and every viewer sees the whole text, from whenever they opened the page and across reconnects.',
  'The dashboard shows both live, with no reload.',
];

const FIXES = [
  'A reconnect no longer shows a task twice in the list.',
  'The stall sweep no longer marks a task stalled while it waits for approval.',
  'Long task titles wrap instead of widening the page on phones.',
  'The Python worker retries a refused connection with jitter.',
  'The SQLite engine compacts its history in small steps.',
];

/** The release notes of `version`, in Markdown: the text the writer streams. */
export function releaseNotes(version: string): string {
  const bullets = (items: readonly string[]): string => items.map((i) => `- ${i}`).join('\n');
  return [
    `# Release notes: ${version}`,
    '',
    `This release brings two things our users asked for most, and a round of fixes. Upgrading from the previous version needs no change: every old client keeps working.`,
    '',
    '## Highlights',
    '',
    bullets(HIGHLIGHTS),
    '',
    '## In detail',
    '',
    '### Batches',
    '',
    'Create a parent with `batch: {expectedChildren: 12, completeWhen: "children"}`, then its children with `parentId`. The parent counts its children by status, its progress is their mean (a child not created yet counts zero), and it ends by itself once the last child has ended: done when all succeeded, failed with "1 of 12 children failed" otherwise. Cancelling the parent cancels every child that has not finished.',
    '',
    '### Streams',
    '',
    'A worker appends text to a named stream, a few words at a time, the way a language model writes. Each chunk carries its number, so a viewer that joins late reads the text so far and then follows the new chunks, and one that reconnects after a network blip neither loses a chunk nor shows one twice. The full text stays readable over HTTP for as long as the task is kept.',
    '',
    '### In the dashboard',
    '',
    'A batch is one row whatever its size, with its counts in front: "7 / 12 done · 1 failed · 3 running · 1 to come". Its children wait behind a toggle, and the filters open it by themselves when only a child matches. A task that streams shows its text in its detail as it is written, in a fixed-width font with its line breaks, and keeps to the end while you read at the end.',
    '',
    '### Performance',
    '',
    '- A parent follows a change of one of its children in one commit, on every engine.',
    '- A chunk is encoded once and the same bytes go to every viewer of the task.',
    '- Reading a stream of 1 MiB takes one request, whatever its number of chunks.',
    '',
    '## Fixes',
    '',
    bullets(FIXES),
    '',
    '## Upgrading',
    '',
    'Stop the server, install the new version, start it again. Clients reconnect by themselves and catch up on what they missed; nothing is lost in between.',
    '',
    '## Deprecations',
    '',
    '- Nothing is removed in this release. The old `progress` field of log lines is ignored and will be dropped in the next major version.',
    '',
    '## Thanks',
    '',
    'Thanks to everyone who filed an issue, reviewed a change or tried a preview build. This release is yours as much as ours.',
    '',
  ].join('\n');
}

/** `text` cut into pieces of 2-5 words, each with the spaces or newlines after it: how a model writes. */
export function chunksOf(text: string, random: () => number = Math.random): string[] {
  const words = text.match(/\S+\s*|\s+/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < words.length;) {
    const n = between(2, 5, random);
    chunks.push(words.slice(i, i + n).join(''));
    i += n;
  }
  return chunks;
}

export async function runNotes(ctx: {
  tw: TaskwireBackend;
  clock: Clock;
  id: string;
  run: number;
}): Promise<WorkerEnd> {
  const { tw, clock, id } = ctx;
  const version = `2.${ctx.run + 3}.0`;
  const text = releaseNotes(version);
  await tw.createTask({ id, owner: NOTES_OWNER, title: NOTES_TITLE, meta: { demo: true, scenario: 'notes', version } });
  if (!(await clock.sleep(between(500, 1_200)))) return 'stopped';
  await tw.progress(id, 0, { stage: 'write', message: `writing the notes for ${version}` });
  const chunks = chunksOf(text);
  let written = 0;
  for (const [i, chunk] of chunks.entries()) {
    await tw.stream(id, chunk, NOTES_STREAM);
    written += chunk.length;
    if (i % 8 === 7) {
      const words = text.slice(0, written).split(/\s+/).length;
      await tw.progress(id, Math.min(99, Math.round((written / text.length) * 1000) / 10), {
        message: `${words} words`,
      });
    }
    if (!(await clock.sleep(between(50, 150)))) return 'stopped';
  }
  const done = await tw.complete(id, { version, bytes: new TextEncoder().encode(text).length, chunks: chunks.length });
  return done.status;
}
