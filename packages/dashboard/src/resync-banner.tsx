/** The banner shown after a subscription could not recover (`recovered: false`): this is a fresh snapshot. */
import type { ReactElement } from 'react';
import { formatTime } from './format.js';

export interface ResyncNote {
  channels: string[];
  at: number;
}

export function ResyncBanner(props: { note: ResyncNote | null; dismiss: () => void }): ReactElement | null {
  if (!props.note) return null;
  const { channels, at } = props.note;
  return (
    <div className="banner" role="alert" data-testid="resync-banner">
      <p>
        <strong>Showing a fresh snapshot</strong> (since {formatTime(at)}): the server could not replay what happened
        while this page was disconnected on {channels.join(', ')}, so events from that gap are not shown. Current states
        are up to date.
      </p>
      <button type="button" className="ghost" onClick={props.dismiss}>
        Dismiss
      </button>
    </div>
  );
}
