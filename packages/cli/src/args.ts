import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from './errors.js';

/**
 * `parseArgs` in strict mode, with its errors turned into a one-line UsageError
 * (exit 2) such as `unknown option '--nope'`.
 */
export function parseCommandArgs<O extends ParseArgsOptionsConfig>(
  args: string[],
  options: O,
  allowPositionals: boolean,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      const first = (err.message.split(/\.\s/)[0] ?? err.message).replace(/\.$/, '');
      throw new UsageError(first.charAt(0).toLowerCase() + first.slice(1));
    }
    throw err;
  }
}

/** A required string flag. */
export function required(value: string | undefined, flag: string, hint = ''): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${flag}${hint ? ` (${hint})` : ''}`);
  return value;
}

export function parseJsonArg(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(
      `${what} must be valid JSON, got ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`,
    );
  }
}

export function parseNumberArg(text: string, flag: string, integer: boolean): number {
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
    throw new UsageError(`${flag} must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** `a,b , c` → `['a', 'b', 'c']`. */
export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** `90`, `30s`, `15m`, `1h`, `7d` → seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!m)
    throw new UsageError(`${flag} must be a duration such as 90, 30s, 15m, 1h or 7d, got ${JSON.stringify(text)}`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  const seconds = Number(m[1]) * unit;
  if (seconds < 1) throw new UsageError(`${flag} must be at least 1 second`);
  return seconds;
}
