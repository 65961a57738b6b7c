/** Channel inspector for admins: subscribe to any channel by name and watch its events. */
import { useId, useState, type FormEvent, type ReactElement } from 'react';
import type { EventFrame } from '@taskwire/client';
import { useChannel } from '@taskwire/react';
import { formatTime } from './format.js';

const KEEP = 200;
const VALID = /^(task|user|room):[A-Za-z0-9_.\-@]{1,128}$/;

export function ChannelInspector(): ReactElement {
  const [name, setName] = useState('');
  const [watched, setWatched] = useState<readonly string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  const add = (e: FormEvent): void => {
    e.preventDefault();
    const channel = name.trim();
    if (!VALID.test(channel))
      return setError('A channel is task:<id>, user:<id> or room:<name> (A-Z a-z 0-9 _ . - @).');
    setError(null);
    setName('');
    if (!watched.includes(channel)) setWatched([channel, ...watched]);
  };
  return (
    <section className="inspector" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Channel inspector</h2>
      <form className="inline-form" onSubmit={add}>
        <label htmlFor={id}>Channel</label>
        <input
          id={id}
          value={name}
          placeholder="room:lobby, user:alice, task:build-42"
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="primary">
          Watch
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {watched.length === 0 && <p className="muted">Watch a channel to see its events as they arrive.</p>}
      {watched.map((c) => (
        <Watched key={c} channel={c} stop={() => setWatched(watched.filter((w) => w !== c))} />
      ))}
    </section>
  );
}

function Watched(props: { channel: string; stop: () => void }): ReactElement {
  const [events, setEvents] = useState<readonly EventFrame[]>([]);
  const { state, error } = useChannel(props.channel, (e) => setEvents((prev) => [e, ...prev].slice(0, KEEP)));
  return (
    <article className="watched" aria-label={`channel ${props.channel}`}>
      <header>
        <h3>
          <code>{props.channel}</code>
        </h3>
        <span className={`sub-state ${state}`}>{error ? `${state}: ${error.code}` : state}</span>
        <button type="button" className="ghost" onClick={props.stop} aria-label={`Stop watching ${props.channel}`}>
          Stop
        </button>
      </header>
      {events.length === 0 ? (
        <p className="muted">No events since you started watching.</p>
      ) : (
        <ol className="events">
          {events.map((e) => (
            <li key={`${e.epoch}:${e.offset}`}>
              <span className="muted">
                {formatTime(e.time)} #{e.offset}
              </span>{' '}
              <code>{JSON.stringify(e.data)}</code>
            </li>
          ))}
        </ol>
      )}
    </article>
  );
}
