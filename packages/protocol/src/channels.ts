/** Channel names: `task:<id>`, `user:<id>`, `room:<name>`; ids are 1-128 of [A-Za-z0-9_.\-@]. */
export const CHANNEL_KINDS = ['task', 'user', 'room'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

export const ID_PATTERN = '^[A-Za-z0-9_.\\-@]{1,128}$';
const ID_RE = new RegExp(ID_PATTERN);
const CHANNEL_RE = /^(task|user|room):([A-Za-z0-9_.\-@]{1,128})$/;
export const CHANNEL_PATTERN = CHANNEL_RE.source;

export interface ParsedChannel {
  kind: ChannelKind;
  id: string;
}

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_RE.test(id);
}

export function parseChannel(name: unknown): ParsedChannel | null {
  if (typeof name !== 'string') return null;
  const m = CHANNEL_RE.exec(name);
  if (!m) return null;
  return { kind: m[1] as ChannelKind, id: m[2] as string };
}

export function isValidChannel(name: unknown): name is string {
  return parseChannel(name) !== null;
}

export const taskChannel = (id: string): string => `task:${id}`;
export const userChannel = (id: string): string => `user:${id}`;
export const roomChannel = (name: string): string => `room:${name}`;

/**
 * A permission pattern: an exact channel name, or a prefix ending in `*`
 * (`task:*`, `room:team-*`). No other wildcards.
 */
export function matchesPattern(pattern: string, channel: string): boolean {
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return prefix.indexOf('*') === -1 && channel.startsWith(prefix);
  }
  return pattern === channel;
}

export function matchesAny(patterns: readonly string[] | undefined, channel: string): boolean {
  if (!patterns) return false;
  for (const p of patterns) if (matchesPattern(p, channel)) return true;
  return false;
}

/** A pattern is valid if it is a channel name, or a prefix of one followed by a single trailing `*`. */
export function isValidPattern(pattern: unknown): pattern is string {
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > 140) return false;
  if (!pattern.endsWith('*')) return isValidChannel(pattern);
  const prefix = pattern.slice(0, -1);
  if (prefix.includes('*')) return false;
  return (
    /^(|t|ta|tas|task|u|us|use|user|r|ro|roo|room)$/.test(prefix) ||
    /^(task|user|room):[A-Za-z0-9_.\-@]{0,127}$/.test(prefix)
  );
}
