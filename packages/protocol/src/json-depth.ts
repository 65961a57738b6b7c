/**
 * The JSON depth limit (LIMITS.jsonDepth): how deeply objects and arrays may nest in
 * anything taskwire accepts (an HTTP body, a WebSocket frame, a task's meta or
 * result, published data). Both checks walk without recursion, so no input can
 * overflow the call stack, however deep.
 */
import { LIMITS } from './limits.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** True when the JSON text nests objects and arrays deeper than `max` (the text itself counts as level 1). */
export function jsonTextTooDeep(text: string, max: number = LIMITS.jsonDepth): boolean {
  // `max` levels need at least `2 × (max + 1)` brackets: a shorter text cannot be too deep.
  if (text.length <= 2 * max) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string, escapes included: brackets inside it are text.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** True when a value in memory nests objects and arrays deeper than `max` (the value itself is level 1). */
export function valueTooDeep(value: unknown, max: number = LIMITS.jsonDepth): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const pending: Array<[object, number]> = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (depth > max) return true;
    const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}

/** The message of a refusal, naming the limit. */
export function tooDeepMessage(what: string): string {
  return `${what} nests objects and arrays deeper than ${LIMITS.jsonDepth} levels`;
}
