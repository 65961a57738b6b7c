/**
 * The channel service: the one path by which every transport (WebSocket, SSE,
 * long-poll, the HTTP channel routes) subscribes to, reads and publishes on a
 * channel. It owns what they share: the permission checks (`auth/permissions.ts`),
 * the request limits, the snapshot of `task:` channels, the connection budget, and
 * the mapping of engine failures to `unavailable`. Transports keep only what is
 * theirs: framing, their own state, and the order reply → `activate()`.
 *
 * Every method answers with a TaskwireError from the one catalogue, never a raw
 * engine error.
 */
import {
  LIMITS,
  TaskwireError,
  jsonTextTooDeep,
  parseChannel,
  taskChannel,
  tooDeepMessage,
  utf8Length,
  type Position,
  type StreamTextResult,
  type SubscribeResult,
  type Task,
} from '@taskwire/protocol';
import type { Logger } from 'pino';
import { authorizePublish, authorizeSubscribe } from '../auth/permissions.js';
import type { Principal } from '../auth/types.js';
import type { Engine, HistoryRequest, HistoryResult, PublishRequest, PublishResult } from '../engine/types.js';
import { ConnectionBudget, type BudgetLimits } from './connection-budget.js';
import type { Hub, Subscriber } from './types.js';

type EndInfo = Parameters<Subscriber['ended']>[1];

const positionOf = ({ event }: PublishResult): Position => ({ epoch: event.epoch, offset: event.offset });

export interface ChannelServiceOptions {
  hub: Hub;
  engine: Pick<Engine, 'publish' | 'history' | 'readStream' | 'sync'>;
  /** The task of a `task:` channel, for its owner check. */
  getTask(id: string): Promise<Task | null>;
  limits: BudgetLimits & {
    /** Most events a `history` request may ask for. */
    historySize: number;
  };
  logger: Logger;
}

export interface ChannelSubscribeRequest {
  channel: string;
  /** Recover the events after this position (all or nothing). */
  since?: Position | undefined;
  /** Without `since`: how many latest events to include (at most `historySize`). */
  history?: number | undefined;
  /**
   * Asked once the permission is checked: false when the subscriber went away
   * meanwhile (then nothing is registered, and subscribe() answers null).
   */
  alive(): boolean;
}

export interface ChannelPublishRequest {
  channel: string;
  data: unknown;
  idempotencyKey?: string | undefined;
}

export class ChannelService {
  /** Connection slots of every transport on this node. */
  readonly budget: ConnectionBudget;
  private readonly hub: Hub;
  private readonly engine: ChannelServiceOptions['engine'];
  /** Most events one history read returns. */
  readonly historySize: number;
  private readonly getTask: ChannelServiceOptions['getTask'];
  private readonly logger: Logger;

  constructor(opts: ChannelServiceOptions) {
    this.hub = opts.hub;
    this.engine = opts.engine;
    this.getTask = (id) => opts.getTask(id);
    this.historySize = opts.limits.historySize;
    this.logger = opts.logger;
    this.budget = new ConnectionBudget(opts.limits);
  }

  /**
   * Check the permission, then register `sub` with the Hub as pending and read its
   * start (recovered events or history, the snapshot for `task:` channels). The
   * caller sends the result, then calls `activate()`. Null when `alive()` turned
   * false while the permission was checked.
   */
  async subscribe(p: Principal, sub: Subscriber, req: ChannelSubscribeRequest): Promise<SubscribeResult | null> {
    const { channel } = req;
    if (req.history !== undefined && req.history > this.historySize) {
      throw new TaskwireError('bad_request', `history must be at most ${this.historySize}`);
    }
    await this.authorize(p, channel);
    if (!req.alive()) return null;
    try {
      return await this.hub.subscribe(sub, channel, {
        since: req.since,
        history: req.history,
        snapshot: parseChannel(channel)?.kind === 'task',
      });
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** Deliver what was buffered since subscribe(), then live events. */
  activate(sub: Subscriber, channel: string): void {
    this.hub.activate(sub, channel);
  }

  unsubscribe(sub: Subscriber, channel: string): void {
    this.hub.unsubscribe(sub, channel);
  }

  /** End every subscription of `sub` (idempotent). */
  release(sub: Subscriber): void {
    this.hub.removeSubscriber(sub);
  }

  /** The subscribe permission alone (`bad_request`, `forbidden`, `not_found`, `unavailable`). */
  async authorize(p: Principal, channel: string): Promise<void> {
    let decision: Awaited<ReturnType<typeof authorizeSubscribe>>;
    try {
      decision = await authorizeSubscribe(p, channel, this.getTask);
    } catch (err) {
      throw this.failure(err);
    }
    if (!decision.ok) throw decision.error;
  }

  /**
   * Whether `p` (a refreshed token) still may hold a subscription to `channel`: null
   * when it may, else how the subscription ends (`forbidden`, for good; `unavailable`
   * with `resubscribe: true` when the engine could not tell).
   */
  async recheck(p: Principal, channel: string): Promise<EndInfo | null> {
    try {
      await this.authorize(p, channel);
      return null;
    } catch (err) {
      if (err instanceof TaskwireError && err.code === 'unavailable') {
        return {
          code: 'unavailable',
          message: 'the permission could not be checked; subscribe again',
          resubscribe: true,
        };
      }
      return { code: 'forbidden', message: 'the refreshed token does not allow this channel', resubscribe: false };
    }
  }

  /** History with the subscribe permission: with `since` all or nothing, else the latest `limit`. */
  async history(p: Principal, channel: string, req: HistoryRequest): Promise<HistoryResult> {
    await this.authorize(p, channel);
    try {
      return await this.engine.history(channel, { ...req, limit: Math.min(req.limit, this.historySize) });
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** A task stream's whole text so far, with the permission of subscribing to `task:<id>`. */
  async readStream(p: Principal, taskId: string, stream: string): Promise<StreamTextResult> {
    await this.authorize(p, taskChannel(taskId));
    try {
      const { text, chunks } = await this.engine.readStream(taskId, stream);
      return { stream, text, chunks };
    } catch (err) {
      throw this.failure(err);
    }
  }

  /**
   * Append one event to a `user:` or `room:` channel: its position, at once on an
   * engine with in-process storage (`Engine.sync`), else when the engine has it. A
   * refusal is thrown (a TaskwireError). The data is serialized once: that text is
   * measured, checked for depth, stored and sent.
   */
  publish(p: Principal, req: ChannelPublishRequest): Position | Promise<Position> {
    const denied = authorizePublish(p, req.channel);
    if (denied) throw denied;
    const json = req.data === undefined ? undefined : JSON.stringify(req.data);
    if (json === undefined) throw new TaskwireError('bad_request', 'data is required');
    // A UTF-16 unit is at most 3 bytes of UTF-8: short texts need no count.
    if (json.length * 3 > LIMITS.jsonBytes && utf8Length(json) > LIMITS.jsonBytes) {
      throw new TaskwireError('bad_request', `data is over ${LIMITS.jsonBytes / 1024} KiB of JSON`);
    }
    if (jsonTextTooDeep(json)) throw new TaskwireError('bad_request', tooDeepMessage('data'));
    const request: PublishRequest = {
      channel: req.channel,
      data: req.data,
      json,
      ...(req.idempotencyKey !== undefined ? { idempotencyKey: req.idempotencyKey } : {}),
    };
    const sync = this.engine.sync;
    let pending: Promise<PublishResult>;
    try {
      if (sync) return positionOf(sync.publish(request));
      pending = this.engine.publish(request);
    } catch (err) {
      throw this.failure(err);
    }
    return pending.then(positionOf, (err: unknown) => {
      throw this.failure(err);
    });
  }

  /** A TaskwireError as it is; anything else is an engine failure: logged, answered `unavailable`. */
  private failure(err: unknown): TaskwireError {
    if (err instanceof TaskwireError) return err;
    this.logger.error({ err }, 'channels: the engine failed');
    return new TaskwireError('unavailable', 'the engine is unavailable', { cause: err });
  }
}
