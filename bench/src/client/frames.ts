/**
 * Cheap reads of the fields the load generator needs from an event frame, straight
 * from the received bytes (no JSON.parse per event): the publish time `"t":` and
 * the channel `"offset":`. Every target sends the same frame shape.
 */
const T_KEY = Buffer.from('"t":');
const OFFSET_KEY = Buffer.from('"offset":');

/** The JSON number after `key`, or NaN. */
export function numberAfter(buf: Buffer, key: Buffer, from = 0): number {
  const at = buf.indexOf(key, from);
  if (at < 0) return NaN;
  let i = at + key.length;
  let value = 0;
  let negative = false;
  if (buf[i] === 0x2d) {
    negative = true;
    i++;
  }
  for (; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
  }
  if (buf[i] === 0x2e) {
    let scale = 0.1;
    for (i++; i < buf.length; i++) {
      const c = buf[i] as number;
      if (c < 0x30 || c > 0x39) break;
      value += (c - 0x30) * scale;
      scale /= 10;
    }
  }
  return negative ? -value : value;
}

export function publishTime(buf: Buffer): number {
  return numberAfter(buf, T_KEY);
}

export function offsetOf(buf: Buffer): number {
  return numberAfter(buf, OFFSET_KEY);
}

/** `{"type":"event",…`: bytes 9 and 10 are `ev` (`error` has `er`). */
export function isEventFrame(buf: Buffer): boolean {
  return buf[0] === 0x7b && buf[9] === 0x65 && buf[10] === 0x76;
}

/** Socket.IO `42[…]`: an event packet. */
export function isSocketIoEvent(buf: Buffer): boolean {
  return buf[0] === 0x34 && buf[1] === 0x32;
}
