/**
 * The connection indicator: connected; reconnecting, with the attempt under way or
 * the time the next one starts; unauthorized (sign in again); closed.
 */
import { useSyncExternalStore, type ReactElement } from 'react';
import { useConnectionState, useTaskwireClient } from '@taskwire/react';
import { useDashboard, useNow } from './hooks.js';

export function ConnectionIndicator(props: { signOut: () => void }): ReactElement {
  const state = useConnectionState();
  const client = useTaskwireClient();
  const { attempts } = useDashboard();
  const tracked = useSyncExternalStore(attempts.subscribe, attempts.get);
  const now = useNow(500);
  const why = tracked.lastChange
    ? ` (code ${tracked.lastChange.code}${tracked.lastChange.reason ? `: ${tracked.lastChange.reason}` : ''})`
    : '';

  let text: string;
  let detail = '';
  switch (state) {
    case 'connected':
      text = 'Live';
      break;
    case 'connecting': {
      const by = attempts.nextAttemptBy();
      text = tracked.failures === 0 ? 'Connecting…' : 'Reconnecting…';
      if (tracked.opening) detail = tracked.failures > 0 ? `attempt ${tracked.failures + 1} under way` : '';
      else if (by !== null) {
        const seconds = Math.max(0, Math.ceil((by - now) / 1000));
        detail = tracked.retryAt !== null ? `next attempt in ${seconds} s` : `next attempt within ${seconds} s`;
      }
      if (tracked.failures > 0) detail += why;
      break;
    }
    case 'unauthorized':
      text = 'Unauthorized';
      detail = `the server refused the token${why}`;
      break;
    case 'closed':
      text = 'Closed';
      detail = `the server ended the connection${why}`;
      break;
    case 'disconnected':
      text = 'Offline';
      break;
  }
  const label = `Connection: ${text}${detail ? `, ${detail}` : ''}`;
  return (
    <div className="connection" data-state={state} role="status" aria-live="polite" aria-label={label} title={label}>
      <span className="dot" aria-hidden="true" />
      <span className="conn-text">{text}</span>
      {detail && <span className="conn-detail">{detail}</span>}
      {state === 'unauthorized' && (
        <button type="button" className="ghost" onClick={props.signOut}>
          Sign in again
        </button>
      )}
      {state === 'closed' && (
        <button type="button" className="ghost" onClick={() => client.connect()}>
          Retry
        </button>
      )}
    </div>
  );
}
