/**
 * `@taskwire/client/share`: `createClient` with `shareAcrossTabs`, one WebSocket
 * for all the tabs of one user. A separate entry so that apps that don't share
 * keep the core small.
 *
 * ```ts
 * import { createClient } from '@taskwire/client/share';
 * const client = createClient({ url: 'wss://example.com/api/v1/ws', getToken, shareAcrossTabs: true });
 * ```
 *
 * Without `shareAcrossTabs` it is the core's `createClient`. With it, where Web
 * Locks or BroadcastChannel are missing, or the token names no user (`sub`), each
 * tab keeps a connection of its own, with the same behaviour.
 */
import { TaskwireClient, type ClientOptions } from './client.js';
import { SharedLink, type ShareEnvironment } from './share/link.js';

export interface SharedClientOptions extends ClientOptions {
  /**
   * One connection for all the tabs of this user on this server: one tab (the
   * leader, elected with the Web Locks API) holds the WebSocket, the others talk to
   * it over a BroadcastChannel. @default false
   */
  shareAcrossTabs?: boolean;
}

/** Web Locks and BroadcastChannel, where both exist. */
function shareEnvironment(): ShareEnvironment | undefined {
  const g = globalThis as {
    navigator?: { locks?: LockManager };
    BroadcastChannel?: new (name: string) => BroadcastChannel;
  };
  const locks = g.navigator?.locks;
  const BroadcastChannelImpl = g.BroadcastChannel;
  return locks && BroadcastChannelImpl ? { locks, BroadcastChannel: BroadcastChannelImpl } : undefined;
}

/** `createClient` of `@taskwire/client`, plus `shareAcrossTabs`. */
export function createClient(opts: SharedClientOptions): TaskwireClient {
  if (!opts.shareAcrossTabs) return new TaskwireClient(opts);
  return new TaskwireClient(
    opts,
    undefined,
    (connOpts, hooks, peek) => new SharedLink(connOpts, hooks, peek, shareEnvironment()),
  );
}
