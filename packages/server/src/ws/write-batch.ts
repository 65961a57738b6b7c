/**
 * Writes to one socket within one turn of the event loop go out together: the
 * first write of a turn goes straight to the socket (a socket written once per turn,
 * the usual subscriber, pays nothing more); from the second on, the socket is corked,
 * and every socket corked in the turn is uncorked once, on the next tick, so its
 * writes leave in one `writev`. A publisher whose one TCP read holds fifty `publish`
 * frames gets its fifty replies in two system calls, not fifty.
 *
 * A turn ends at the next `process.nextTick` after its first write: after the I/O
 * callback that wrote and its promise reactions, before the event loop reads
 * anything else. Nothing waits for a timer, so no write is delayed past the turn
 * that made it; `ws` still sees every byte in its socket's writable buffer
 * (`bufferedAmount`), and `end()` and `destroy()` flush or drop corked writes as
 * they do any other.
 */
/** A socket as the batch sees it: where it was last written, and its cork. */
export interface Batched {
  /** The turn of this socket's last write (-1: never). */
  turn: number;
  corked: boolean;
  cork(): void;
  uncork(): void;
}

let turn = 0;
let ending = false;
let corked: Batched[] = [];

function endTurn(): void {
  ending = false;
  turn += 1;
  if (corked.length === 0) return; // the usual turn: nothing corked, nothing allocated
  // An uncork may write more (a write callback): those writes belong to the next turn.
  const batch = corked;
  corked = [];
  for (const socket of batch) {
    socket.corked = false;
    socket.uncork();
  }
}

/** Call before each write to `socket`: corks it when it was already written this turn. */
export function beforeWrite(socket: Batched): void {
  if (socket.turn !== turn) {
    socket.turn = turn;
    if (!ending) {
      ending = true;
      process.nextTick(endTurn);
    }
    return;
  }
  if (socket.corked) return;
  socket.corked = true;
  socket.cork();
  corked.push(socket);
}
