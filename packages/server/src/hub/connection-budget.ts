/**
 * Connection slots, one budget for the node across every transport: a WebSocket, an
 * SSE stream and a waiting long-poll each hold one slot of `maxConnections`, and one
 * of their user's `maxConnectionsPerUser` (API-key callers, the backend, take no user
 * slot). A transport asks for a node slot (`admit`) and a user slot (`claimUser`) and
 * gives each back exactly once.
 */
import type { Transport, TransportCounts } from './types.js';

export interface BudgetLimits {
  /** Connections per node, every transport together. */
  maxConnections: number;
  /** Connections per user per node, every transport together. */
  maxConnectionsPerUser: number;
}

export class ConnectionBudget {
  private readonly node: TransportCounts = { ws: 0, sse: 0, longpoll: 0 };
  private total = 0;
  private readonly users = new Map<string, number>();

  constructor(private readonly limits: BudgetLimits) {}

  /** A node slot for a connection of `transport`; false when the node is full. */
  admit(transport: Transport): boolean {
    if (this.total >= this.limits.maxConnections) return false;
    this.node[transport] += 1;
    this.total += 1;
    return true;
  }

  leave(transport: Transport): void {
    if (this.node[transport] === 0) return;
    this.node[transport] -= 1;
    this.total -= 1;
  }

  /** A slot for `sub`; false when the user is at its limit. */
  claimUser(sub: string): boolean {
    const n = this.users.get(sub) ?? 0;
    if (n >= this.limits.maxConnectionsPerUser) return false;
    this.users.set(sub, n + 1);
    return true;
  }

  releaseUser(sub: string): void {
    const n = (this.users.get(sub) ?? 1) - 1;
    if (n > 0) this.users.set(sub, n);
    else this.users.delete(sub);
  }

  /** Node slots held, by transport. */
  counts(): TransportCounts {
    return { ...this.node };
  }
}
