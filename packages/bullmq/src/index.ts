/**
 * @taskwire/bullmq: every job of a BullMQ queue as a live taskwire task.
 *
 * ```ts
 * import { Queue } from 'bullmq';
 * import { createBackend } from '@taskwire/client/backend';
 * import { bridgeQueue } from '@taskwire/bullmq';
 *
 * const queue = new Queue('reports', { connection: { host: '127.0.0.1', port: 6379 } });
 * const backend = createBackend({ url: 'http://127.0.0.1:8080', apiKey: process.env.TASKWIRE_API_KEY! });
 * const bridge = bridgeQueue(queue, { backend, owner: (job) => job.data.userId });
 * // … on shutdown:
 * await bridge.close();
 * ```
 */
export { bridgeQueue, type BridgeOptions, type BridgeRole, type QueueBridge } from './bridge.js';
export { taskIdFor } from './ids.js';
