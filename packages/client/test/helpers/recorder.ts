import type { EventFrame } from '@taskwire/protocol';
import type { ChannelNotice, StateEvent, TaskwireClient } from '../../src/index.js';

/** Records what a client saw on one channel: event offsets in arrival order, resyncs, state codes. */
export class Recorder {
  readonly offsets: number[] = [];
  readonly events: EventFrame[] = [];
  readonly codes: number[] = [];
  resyncs = 0;

  constructor(client: TaskwireClient) {
    client.on('state', (e: StateEvent) => {
      if (e.newState === 'connecting' && e.code !== 0) this.codes.push(e.code);
    });
  }

  readonly listener = (n: ChannelNotice): void => {
    if (n.type === 'event') {
      this.offsets.push(n.event.offset);
      this.events.push(n.event);
    } else if (n.type === 'resync') this.resyncs += 1;
  };

  /** True when the offsets are exactly 1..n, in order, no gap, no duplicate. */
  isExactly(n: number): boolean {
    return this.offsets.length === n && this.offsets.every((o, i) => o === i + 1);
  }
}
