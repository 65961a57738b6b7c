/**
 * The session: the timers of one attempt and of the connection it opens, in one list
 * that `stop()` clears.
 *
 * - Before `welcome`: the welcome timeout (`awaitWelcome`).
 * - From `welcome` (`start`): the stable timer (after STABLE_AFTER_MS up, a `stable`
 *   input resets the backoff); liveness with app-level pings; the proactive token
 *   refresh with the `refresh` op before the token's `exp`.
 *
 * Its inputs (`stable`, `stale`) go back through the connection's one transition point.
 */
import type { WelcomeFrame } from '@taskwire/protocol';
import { STABLE_AFTER_MS } from './backoff.js';
import { TaskwireClientError } from './errors.js';
import { refreshDelay, tokenExpiry } from './jwt.js';
import { LocalCode, type Input } from './machine.js';
import type { OutFrame, Settle } from './requests.js';

/** What the session needs from the connection. */
export interface SessionHost {
  /** The connection's transition point. */
  feed(input: Input): void;
  /** A request on the open connection; `settle` gets its outcome (`Connection.send`). */
  send<T>(frame: OutFrame, settle: Settle<T>): void;
  /** `send` as a promise (`Connection.request`). */
  request<T>(frame: OutFrame): Promise<T>;
  /** The transport in use while connected, else null: a refresh completes only on the one it started on. */
  live(): object | null;
  /** The token in use. */
  token(): string | undefined;
  /** The server accepted a `refresh`: use this token from now on. */
  refreshed(token: string): void;
  error(error: TaskwireClientError): void;
}

type Timer = ReturnType<typeof setTimeout>;

export class Session {
  #timers: Timer[] = [];
  #lastHeard = 0;

  constructor(
    private readonly host: SessionHost,
    private readonly getToken: (() => Promise<string> | string) | undefined,
  ) {}

  /** Timers still alive (leak checks in tests). */
  get timers(): number {
    return this.#timers.length;
  }

  /** An attempt's transport is open: no `welcome` within `ms` → `stale`. */
  awaitWelcome(ms: number): void {
    this.#timer(ms, () => this.host.feed({ type: 'stale', code: LocalCode.Timeout, reason: 'no welcome in time' }));
  }

  /** A frame came in: the server is alive. */
  heard(): void {
    this.#lastHeard = Date.now();
  }

  /** After `welcome`: `heartbeatMs` 0 means no liveness watch; the refresh is timed on the welcome's `serverTime`. */
  start(heartbeatMs: number, welcome: WelcomeFrame | undefined): void {
    this.stop(); // the welcome timeout
    this.#lastHeard = Date.now();
    this.#timer(STABLE_AFTER_MS, () => this.host.feed({ type: 'stable' }));
    if (heartbeatMs > 0) this.#watch(heartbeatMs);
    if (welcome) this.#scheduleRefresh(welcome.serverTime - Date.now());
  }

  /** Clear every timer. */
  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
  }

  /**
   * Liveness: browsers cannot see the server's WebSocket pings, so after heartbeatMs
   * of silence we ask with an app-level ping, and after 2 × heartbeatMs of silence
   * we give the connection up.
   */
  #watch(heartbeatMs: number): void {
    const tick = Math.max(50, Math.floor(heartbeatMs / 4));
    let lastPing = 0;
    const check = (): void => {
      const now = Date.now();
      const quiet = now - this.#lastHeard;
      if (quiet >= 2 * heartbeatMs) {
        return this.host.feed({ type: 'stale', code: LocalCode.NoHeartbeat, reason: `nothing heard for ${quiet} ms` });
      }
      // One ping per quiet heartbeat; its reply counts as hearing from the server.
      if (quiet >= heartbeatMs && now - lastPing >= heartbeatMs) {
        lastPing = now;
        this.host.send({ op: 'ping' }, () => undefined);
      }
      this.#timer(tick, check);
    };
    this.#timer(tick, check);
  }

  /** Proactive refresh with the `refresh` op before the token's exp. `skew` = server clock − ours. */
  #scheduleRefresh(skew: number): void {
    const token = this.host.token();
    const exp = token === undefined ? undefined : tokenExpiry(token);
    const getToken = this.getToken;
    if (exp === undefined || !getToken) return;
    this.#timer(refreshDelay(exp, Date.now() + skew), () => {
      const transport = this.host.live();
      Promise.resolve()
        .then(getToken)
        .then(async (fresh) => {
          if (this.host.live() !== transport) return;
          await this.host.request({ op: 'refresh', token: fresh });
          this.host.refreshed(fresh);
          this.#scheduleRefresh(skew);
        })
        .catch((cause: unknown) => {
          // The server will close with 4001 when the old token runs out; the machine handles that.
          this.host.error(new TaskwireClientError('token', 'token refresh failed', { cause }));
        });
    });
  }

  #timer(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers = this.#timers.filter((t) => t !== timer);
      fn();
    }, ms);
    this.#timers.push(timer);
  }
}
