/**
 * The seam between the client and what carries its frames. The core's one
 * implementation is the Connection (./connection.ts); `@taskwire/client/share`
 * adds one that shares a single connection between the tabs of one user
 * (./share/link.ts). Types only: nothing here reaches the core bundle.
 */
import type { Task, WelcomeFrame } from '@taskwire/protocol';
import type { ConnectionHooks, ConnectionOptions } from './connection.js';
import type { EnvironmentSignal } from './environment.js';
import type { TransportName } from './fallback.js';
import type { ConnectionState } from './machine.js';
import type { OutFrame, Settle } from './requests.js';

/** What TaskwireClient needs from its connection. */
export interface Link {
  readonly state: ConnectionState;
  readonly transport: TransportName;
  readonly welcome: WelcomeFrame | undefined;
  connect(): void;
  disconnect(): void;
  notify(signal: EnvironmentSignal): void;
  send<T>(frame: OutFrame, settle: Settle<T>): void;
  request<T>(frame: OutFrame): Promise<T>;
}

/**
 * Builds the link in place of a Connection. `peek(channel)` is the tab's current
 * snapshot of a task channel (undefined while loading or for other channels).
 */
export type LinkFactory = (
  opts: ConnectionOptions,
  hooks: ConnectionHooks,
  peek: (channel: string) => Task | null | undefined,
) => Link;
