/**
 * The webhook options parsed and checked together: endpoints, the signing key, the
 * event types, the retry schedule. resolveConfig() calls webhookSettings() so a bad
 * value stops the server at start with one line naming the option.
 */
import { WEBHOOK_EVENT_TYPES, isWebhookEventType, type WebhookEventType } from '@taskwire/protocol';
import { parseDuration } from './durations.js';
import type { ServerConfig } from './types.js';

export interface WebhookSettings {
  endpoints: readonly string[];
  /** The HMAC key: the base64-decoded part of the secret after `whsec_`. */
  key: Buffer;
  events: ReadonlySet<WebhookEventType>;
  /** Delay before each retry, ms: attempts = 1 + schedule.length. */
  schedule: readonly number[];
  timeoutMs: number;
}

/** A problem with one option; resolveConfig() names the option's flag and variable. */
export class WebhookSettingsError extends Error {
  constructor(
    readonly key: keyof ServerConfig,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookSettingsError';
  }
}

const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** The webhook settings, or null when no endpoint is configured. Throws WebhookSettingsError. */
export function webhookSettings(
  config: Pick<
    ServerConfig,
    'webhookUrls' | 'webhookSecret' | 'webhookEvents' | 'webhookRetrySchedule' | 'webhookTimeoutMs'
  >,
): WebhookSettings | null {
  const schedule = list(config.webhookRetrySchedule).map((d) => {
    const ms = parseDuration(d);
    if (!Number.isSafeInteger(ms) || ms > 7 * 24 * 3600_000) {
      throw new WebhookSettingsError(
        'webhookRetrySchedule',
        `must be comma-separated delays such as 5s,5m,2h (each up to 7d), got ${JSON.stringify(d)}`,
      );
    }
    return ms;
  });
  if (schedule.length > 20) throw new WebhookSettingsError('webhookRetrySchedule', 'takes at most 20 delays');
  const names = config.webhookEvents.trim() === 'all' ? [...WEBHOOK_EVENT_TYPES] : list(config.webhookEvents);
  const unknown = names.find((n) => !isWebhookEventType(n));
  if (unknown !== undefined || names.length === 0) {
    throw new WebhookSettingsError(
      'webhookEvents',
      `must be all or a comma-separated list of ${WEBHOOK_EVENT_TYPES.join(', ')}; got ${JSON.stringify(unknown ?? '')}`,
    );
  }
  const endpoints = config.webhookUrls === null ? [] : list(config.webhookUrls);
  for (const url of endpoints) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      // reported below
    }
    if (
      !parsed ||
      (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') ||
      parsed.username ||
      parsed.password
    ) {
      throw new WebhookSettingsError(
        'webhookUrls',
        `must be http: or https: URLs without credentials in them, got ${JSON.stringify(url.slice(0, 80))}`,
      );
    }
  }
  if (new Set(endpoints).size !== endpoints.length)
    throw new WebhookSettingsError('webhookUrls', 'lists an endpoint twice');
  const key = config.webhookSecret === null ? null : secretKey(config.webhookSecret);
  if (endpoints.length === 0) return null;
  if (key === null) {
    throw new WebhookSettingsError(
      'webhookSecret',
      'is required with --webhook-url: whsec_ and the base64 of 24-64 random bytes (e.g. `echo whsec_$(openssl rand -base64 32)`)',
    );
  }
  return { endpoints, key, events: new Set(names as WebhookEventType[]), schedule, timeoutMs: config.webhookTimeoutMs };
}

function secretKey(secret: string): Buffer {
  const body = secret.startsWith('whsec_') ? secret.slice(6) : null;
  const key = body !== null && /^[A-Za-z0-9+/]+={0,2}$/.test(body) ? Buffer.from(body, 'base64') : null;
  if (key === null || key.length < 24 || key.length > 64) {
    throw new WebhookSettingsError(
      'webhookSecret',
      'must be whsec_ and the base64 of 24-64 random bytes (e.g. `echo whsec_$(openssl rand -base64 32)`)',
    );
  }
  return key;
}
