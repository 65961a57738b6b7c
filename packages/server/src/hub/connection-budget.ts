/**
 * Connection slots, one budget for the node: how many connections each transport
 * holds and how many each user holds. A transport asks for a node slot when a
 * connection arrives (`admit`) and a user slot once it knows who it is
 * (`claimUser`); both are given back exactly once by their owner.
 */
import type { Transport, TransportCounts } from './types.js';

export interface BudgetLimits {
  /** Connections per node. */
  maxConnections: number;
  /** Connections per user per node. */
  maxConnectionsPerUser: number;
}

export class ConnectionBudget {
  private readonly node: TransportCounts = { ws: 0, sse: 0, longpoll: 0 };
  private readonly users: Record<Transport, Map<string, number>> = {
    ws: new Map(),
    sse: new Map(),
    longpoll: new Map(),
  };

  constructor(private readonly limits: BudgetLimits) {}

  /** A node slot for a new connection of `transport`; false when the node is full. */
  admit(transport: Transport): boolean {
    if (this.node[transport] >= this.limits.maxConnections) return false;
    this.node[transport] += 1;
    return true;
  }

  leave(transport: Transport): void {
    if (this.node[transport] > 0) this.node[transport] -= 1;
  }

  /** A slot for `sub`; false when the user is at its limit. */
  claimUser(transport: Transport, sub: string): boolean {
    const users = this.users[transport];
    const n = users.get(sub) ?? 0;
    if (n >= this.limits.maxConnectionsPerUser) return false;
    users.set(sub, n + 1);
    return true;
  }

  releaseUser(transport: Transport, sub: string): void {
    const users = this.users[transport];
    const n = (users.get(sub) ?? 1) - 1;
    if (n > 0) users.set(sub, n);
    else users.delete(sub);
  }

  /** Node slots held, by transport. */
  counts(): TransportCounts {
    return { ...this.node };
  }
}
