/**
 * Webhooks in a running server: the message source the task service stores with each
 * commit, the sender, and its metrics. Nothing when no endpoint is configured.
 */
import { Counter, Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { TUNING } from '../config/options.js';
import { ConfigError } from '../config/resolve.js';
import type { ServerConfig } from '../config/types.js';
import type { Engine, Outbox } from '../engine/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WebhookSource } from '../tasks/commits.js';
import { webhookSource } from './messages.js';
import { WebhookSender } from './sender.js';
import { webhookSettings } from '../config/webhook-settings.js';

export interface RunningWebhooks {
  source: WebhookSource;
  sender: WebhookSender;
}

export function startWebhooks(
  config: ServerConfig,
  engine: Engine,
  logger: Logger,
  metrics: Metrics,
): RunningWebhooks | null {
  const settings = webhookSettings(config);
  if (settings === null) return null;
  const outbox = engine.outbox;
  if (!outbox) {
    throw new ConfigError(
      `--webhook-url (TASKWIRE_WEBHOOK_URLS) needs an engine with a webhook outbox: the ${engine.kind} engine has none (memory, SQLite and Redis have one)`,
    );
  }
  const sender = new WebhookSender({
    outbox,
    settings,
    logger,
    pollMs: TUNING.webhookPollMs,
    concurrency: TUNING.webhookConcurrency,
  });
  registerMetrics(metrics, sender, outbox);
  sender.start();
  const messages = webhookSource(settings);
  const source: WebhookSource = (prev, next, cause) => {
    const out = messages(prev, next, cause);
    // Stored with the commit that is under way; sent as soon as the sender looks.
    if (out.length > 0) setImmediate(() => sender.poll());
    return out;
  };
  logger.info({ endpoints: settings.endpoints.length, events: [...settings.events] }, 'webhooks on');
  return { source, sender };
}

function registerMetrics(metrics: Metrics, sender: WebhookSender, outbox: Outbox): void {
  const registers = [metrics.registry];
  const counts = sender.counts;
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  counter('taskwire_webhooks_delivered_total', 'Webhook messages delivered (a 2xx answer).', () => counts.delivered);
  counter(
    'taskwire_webhooks_retried_total',
    'Webhook attempts that failed and were scheduled again.',
    () => counts.retried,
  );
  counter(
    'taskwire_webhooks_failed_total',
    'Webhook messages failed for good (schedule exhausted, or 410).',
    () => counts.failed,
  );
  new Gauge({
    name: 'taskwire_webhooks_oldest_pending_seconds',
    help: 'Age of the oldest webhook message not yet delivered nor failed (0 when none).',
    registers,
    async collect() {
      const { oldestPendingAt } = await outbox.counts();
      this.set(oldestPendingAt === null ? 0 : Math.max(0, (Date.now() - oldestPendingAt) / 1000));
    },
  });
}
