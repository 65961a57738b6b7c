/**
 * A task's streams in its detail (protocol 1.1 streams), each growing live through
 * `useTaskStream`: complete from whenever the detail opened and across reconnects.
 * Monospace with its newlines, scrolled to the end while the reader is at the end,
 * its size shown; past SHOWN_CHARS only the tail is drawn, with a note and a
 * download of the whole text (`GET /tasks/:id/streams/:name`).
 */
import { useLayoutEffect, useMemo, useRef, useState, type ReactElement } from 'react';
import type { Task } from '@taskwire/client';
import { useTaskStream } from '@taskwire/react';
import { formatBytes, utf8Bytes } from './format.js';
import { useDashboard } from './hooks.js';

/** Characters drawn at most; a longer text shows its tail. */
export const SHOWN_CHARS = 64 * 1024;

/** The tail of `text` that is drawn: at most `max` characters, from a line start when one is near. */
export function tailOf(text: string, max = SHOWN_CHARS): string {
  if (text.length <= max) return text;
  const cut = text.length - max;
  const line = text.indexOf('\n', cut);
  return line !== -1 && line - cut < 2_000 ? text.slice(line + 1) : text.slice(cut);
}

export function Streams(props: { task: Task; names: readonly string[] }): ReactElement | null {
  if (props.names.length === 0) return null;
  return (
    <section aria-labelledby="streams-h">
      <h3 id="streams-h">{props.names.length === 1 ? 'Stream' : 'Streams'}</h3>
      {props.names.map((name) => (
        <StreamView key={name} taskId={props.task.id} name={name} />
      ))}
    </section>
  );
}

function StreamView(props: { taskId: string; name: string }): ReactElement {
  const { taskId, name } = props;
  const { text, chunks, done, error } = useTaskStream(taskId, name);
  const bytes = useMemo(() => utf8Bytes(text), [text]);
  const shown = useMemo(() => tailOf(text), [text]);
  const box = useRef<HTMLPreElement>(null);
  const atEnd = useRef(true);
  useLayoutEffect(() => {
    const el = box.current;
    if (el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [shown]);
  return (
    <figure className="stream" data-stream={name} data-chunks={chunks} data-done={done ? 'true' : 'false'}>
      <figcaption>
        <code>{name}</code> · <span className="stream-size">{formatBytes(bytes)}</span> · {chunks} chunk
        {chunks === 1 ? '' : 's'} · {done ? 'complete' : <span className="live-dot">live</span>}
      </figcaption>
      {error && <p className="error">The stream could not be followed: {error.message}</p>}
      {shown.length < text.length && (
        <p className="muted stream-note">
          Showing the last {formatBytes(utf8Bytes(shown))} of {formatBytes(bytes)}.{' '}
          <FullText taskId={taskId} name={name} />
        </p>
      )}
      <pre
        ref={box}
        className="stream-text"
        tabIndex={0}
        aria-label={`stream ${name}`}
        onScroll={(e) => {
          const el = e.currentTarget;
          atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {shown || <span className="muted">{done ? 'Empty.' : 'Waiting for the first chunk…'}</span>}
      </pre>
    </figure>
  );
}

/** Downloads the whole text with the signed-in token (a plain link would carry no token). */
function FullText(props: { taskId: string; name: string }): ReactElement {
  const { api } = useDashboard();
  const [error, setError] = useState<string | null>(null);
  const download = (): void => {
    api.streamText(props.taskId, props.name).then(
      (r) => {
        const url = URL.createObjectURL(new Blob([r.text], { type: 'text/plain;charset=utf-8' }));
        const a = document.createElement('a');
        a.href = url;
        a.download = `${props.taskId}-${props.name}.txt`;
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        setError(null);
      },
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    );
  };
  return (
    <>
      <button type="button" className="ghost link-button" onClick={download}>
        Download the full text
      </button>
      {error && <span className="error"> {error}</span>}
    </>
  );
}
