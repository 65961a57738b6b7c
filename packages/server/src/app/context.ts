import type { Logger } from 'pino';
import type { Authenticator } from '../auth/types.js';
import type { ServerConfig } from '../config/types.js';
import type { Engine } from '../engine/types.js';
import type { ChannelService } from '../hub/channel-service.js';
import type { Hub } from '../hub/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { TaskService } from '../tasks/types.js';
import type { WebhookSender } from '../webhooks/sender.js';

/** Everything a transport or route needs, built once by createServer(). */
export interface ServerContext {
  config: ServerConfig;
  engine: Engine;
  hub: Hub;
  /** Subscribe, read and publish for every transport: permissions, limits, connection budget. */
  channels: ChannelService;
  tasks: TaskService;
  auth: Authenticator;
  logger: Logger;
  /** Prometheus metrics of this server instance (its own registry). */
  metrics: Metrics;
  /** The webhook sender, when endpoints are configured. */
  webhooks: WebhookSender | null;
}
