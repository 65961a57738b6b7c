/**
 * The states of one Hub channel and the only transitions between them.
 *
 *   starting ──started──▶ live ◀──drained── delivering ──gap──▶ filling
 *                          │ └────deliver────▶ ▲   ▲               │
 *                          │                   │   └────filled─────┘
 *   (every state) ──close──▶ closed
 *
 * - `starting`: the engine subscription and the channel's position are being read;
 *   events that arrive are queued.
 * - `live`: idle, caught up; the next event starts a delivery at once.
 * - `delivering`: inside the loop that takes queued events in offset order and
 *   broadcasts them; events that arrive meanwhile (a subscriber that publishes) are
 *   queued and taken by the same loop.
 * - `filling`: a gap was seen; history is being read to fill it, events are queued.
 * - `closed`: no subscriber is left, the epoch changed, a gap could not be filled or
 *   the Hub closed. Final: nothing is delivered, the engine subscription is released.
 *
 * A request that is not in the table is refused (`transition` returns null) and
 * changes nothing.
 */
export type ChannelPhase = 'starting' | 'live' | 'delivering' | 'filling' | 'closed';

export type ChannelInput = 'started' | 'deliver' | 'drained' | 'gap' | 'filled' | 'close';

export const CHANNEL_PHASES: readonly ChannelPhase[] = ['starting', 'live', 'delivering', 'filling', 'closed'];
export const CHANNEL_INPUTS: readonly ChannelInput[] = ['started', 'deliver', 'drained', 'gap', 'filled', 'close'];

const ALLOWED: Readonly<Record<ChannelPhase, Partial<Record<ChannelInput, ChannelPhase>>>> = {
  starting: { started: 'live', close: 'closed' },
  live: { deliver: 'delivering', close: 'closed' },
  delivering: { drained: 'live', gap: 'filling', close: 'closed' },
  filling: { filled: 'delivering', close: 'closed' },
  closed: {},
};

/** The next phase, or null when `input` is not allowed in `from`. */
export function transition(from: ChannelPhase, input: ChannelInput): ChannelPhase | null {
  return ALLOWED[from][input] ?? null;
}

/** True while events are still accepted (queued or delivered). */
export function acceptsEvents(phase: ChannelPhase): boolean {
  return phase !== 'closed';
}
