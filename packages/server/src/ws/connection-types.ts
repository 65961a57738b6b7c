/** What a Connection (connection.ts) needs: its transport, and the node's parts it uses. */
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/types.js';
import type { ServerConfig } from '../config/types.js';
import type { ChannelService } from '../hub/channel-service.js';
import type { EncodedEvent } from '../hub/types.js';

/** What a connection needs from its transport. */
export interface WireSocket {
  /** A text frame the connection built (a reply, an error, the welcome). */
  send(text: string): void;
  /** An event, as the Hub encoded it once for every subscriber. */
  sendEvent(event: EncodedEvent): void;
  close(code: number, reason: string): void;
  terminate(): void;
  /** Stop reading frames from the peer (TCP pushes back), until resume(). */
  pause(): void;
  resume(): void;
  readonly bufferedAmount: number;
}

export type Credential = { kind: 'token' | 'ticket'; value: string };

export interface ConnectionDeps<S extends WireSocket = WireSocket> {
  readonly config: Pick<
    ServerConfig,
    | 'authTimeoutMs'
    | 'heartbeatMs'
    | 'maxSubscriptionsPerConnection'
    | 'sendBufferBytes'
    | 'historySize'
    | 'maxPendingFrames'
    | 'clockLeewaySec'
  >;
  /** Subscribe, publish and the user's connection slot: the path every transport shares. */
  readonly channels: Pick<
    ChannelService,
    'subscribe' | 'activate' | 'unsubscribe' | 'release' | 'publish' | 'readStream' | 'recheck' | 'budget'
  >;
  readonly auth: Pick<Authenticator, 'verifyToken' | 'redeemTicket'>;
  readonly logger: Logger;
  /** Shared count of live connection timers (for leak checks). */
  readonly timers: { active: number };
  /** How long a closing socket may take to close before it is terminated. */
  readonly closeGraceMs: number;
  /** Events written, per transport (metrics): `ws` is bumped once per delivered event. */
  readonly delivered?: { ws: number };
  onSlowConsumer(): void;
  /** Once, when the connection leaves `authenticating` (authenticated, refused or gone). */
  onAuthSettled?(conn: { readonly socket: S }): void;
  /** Once, when the socket is gone. */
  onClosed(conn: { readonly id: string; readonly user: string | null; readonly socket: S }): void;
}
