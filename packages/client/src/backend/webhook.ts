/**
 * `verifyWebhook(body, headers, secret)`: checks a taskwire webhook (Standard
 * Webhooks): the `webhook-signature` header holds one or more space-separated
 * `v1,<base64>` signatures, any of which may match HMAC-SHA256(key,
 * `<webhook-id>.<webhook-timestamp>.<body>`); the comparison is constant-time (Web
 * Crypto's verify), and a timestamp more than 5 minutes from now is refused. Uses
 * only Web Crypto, so it runs in Node 22+, Deno, Bun and edge runtimes.
 */
import type { WebhookPayload } from '@taskwire/protocol';

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export interface VerifyWebhookOptions {
  /** Seconds a timestamp may be away from now (default 300). */
  toleranceSec?: number;
  /** Clock, ms (tests). */
  now?: () => number;
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | null {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const bag = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : bag[key];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function base64Bytes(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  let bin: string;
  try {
    bin = atob(text);
  } catch {
    return null; // not a whole base64 text
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The verified payload. Throws WebhookVerificationError when a header is missing, the
 * timestamp is out of tolerance, or no signature matches. `body` must be the raw
 * request body, exactly as received (not re-serialized JSON).
 */
export async function verifyWebhook(
  body: string | Uint8Array,
  headers: HeaderBag,
  secret: string,
  opts: VerifyWebhookOptions = {},
): Promise<WebhookPayload> {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures)
    throw new WebhookVerificationError('missing webhook-id, -timestamp or -signature');
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError('webhook-timestamp is not Unix seconds');
  const now = (opts.now ?? Date.now)() / 1000;
  if (Math.abs(now - Number(timestamp)) > (opts.toleranceSec ?? 300)) {
    throw new WebhookVerificationError('webhook-timestamp is too far from now');
  }
  const raw = base64Bytes(secret.startsWith('whsec_') ? secret.slice(6) : secret);
  if (raw === null) throw new WebhookVerificationError('the secret is not whsec_ and base64');
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${text}`);
  for (const candidate of signatures.split(' ')) {
    const [version, sig] = candidate.split(',', 2);
    const bytes = version === 'v1' && sig ? base64Bytes(sig) : null;
    if (bytes && (await crypto.subtle.verify('HMAC', key, bytes, signed))) return JSON.parse(text) as WebhookPayload;
  }
  throw new WebhookVerificationError('no webhook-signature matches');
}
