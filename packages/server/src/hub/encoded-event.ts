/**
 * An event encoded once, for every transport and every subscriber: one buffer that
 * is a complete unmasked WebSocket text frame (RFC 6455 §5.2) whose payload is the
 * event frame's JSON text, `{"type":"event","channel":…,"epoch":…,"offset":…,"time":…,"data":…}`.
 * WebSocket connections write `wsFrame` as it is (one write, no framing per socket);
 * SSE and long-poll take `payload`, a view of the same bytes (no copy).
 *
 * The buffer is written part by part (the channel's cached prefix, the position, the
 * data's JSON text as the engine has it): no intermediate string of the whole frame.
 */
export class EncodedEvent {
  constructor(
    readonly wsFrame: Buffer,
    private readonly headerBytes: number,
  ) {}

  /** The event frame's JSON text, UTF-8. */
  get payload(): Buffer {
    return this.wsFrame.subarray(this.headerBytes);
  }
}

/** What every event of one channel and epoch starts with, up to the offset. */
export function eventPrefix(channel: string, epoch: string): Buffer {
  return Buffer.from(`{"type":"event","channel":${JSON.stringify(channel)},"epoch":${JSON.stringify(epoch)},"offset":`);
}

const CLOSE_BRACE = 0x7d;

/** A buffer of `n` payload bytes behind an unmasked WebSocket text frame header; returns it and the header's length. */
function textFrame(n: number): { out: Buffer; head: number } {
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x81; // FIN + text
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  return { out, head };
}

/** Encode one event; `dataJson` is the JSON text of its data. */
export function encodeEvent(prefix: Buffer, offset: number, time: number, dataJson: string): EncodedEvent {
  const middle = `${offset},"time":${time},"data":`;
  const { out, head } = textFrame(prefix.length + middle.length + Buffer.byteLength(dataJson) + 1);
  let at = head + prefix.copy(out, head);
  at += out.write(middle, at, 'latin1');
  at += out.write(dataJson, at, 'utf8');
  out[at] = CLOSE_BRACE;
  return new EncodedEvent(out, head);
}

/** One complete unmasked WebSocket text frame of `text` (a reply, an error): one buffer, one write. */
export function encodeTextFrame(text: string): Buffer {
  const { out, head } = textFrame(Buffer.byteLength(text));
  out.write(text, head, 'utf8');
  return out;
}
