/**
 * Runs the transport fallback policy (./fallback.ts) for the connection: it holds the
 * policy's state, names the transport each attempt opens, runs the health probe and
 * the timer that tries the first transport again, and asks the connection to replace
 * a working fallback when the policy says so. The connection tells it how each
 * attempt ended (read off the machine's transitions, so the machine itself knows
 * nothing of transports).
 */
import { FALLBACK_INITIAL, fallbackStep, type FallbackInput, type TransportName } from './fallback.js';
import type { TransportFactory } from './transport.js';

export interface TransportSlot {
  name: TransportName;
  factory: TransportFactory;
}

export interface FallbackOptions {
  /** Consecutive failures before a switch. */
  failures: number;
  /** Time on a fallback before the first transport is tried again, ms. */
  retryMs: number;
  /** Does plain HTTP reach the server? (`GET /healthz`) */
  probe: () => Promise<boolean>;
}

type Timer = ReturnType<typeof setTimeout>;

export class FallbackRunner {
  #state = FALLBACK_INITIAL;
  /** The index of the transport the current attempt opened. */
  #openedWith = 0;
  #timer: Timer | undefined;

  /**
   * `slots`: the transports in order of preference. `opts`: none, no fallback (the
   * first slot is always used). `replace`: the policy moved to another transport and
   * wants it now, even if the one in use works.
   */
  constructor(
    private readonly slots: readonly TransportSlot[],
    private readonly opts: FallbackOptions | undefined,
    private readonly replace: () => void,
  ) {}

  /** The transport in use, or the one the next attempt opens. */
  get slot(): TransportSlot {
    return this.slots[this.#state.current] ?? (this.slots[0] as TransportSlot);
  }

  /** An attempt opens now: remember its transport, so its outcome counts for the right one. */
  opening(): TransportSlot {
    this.#openedWith = this.#state.current;
    return this.slot;
  }

  /** The attempt got its `welcome`. */
  welcomed(): void {
    this.#policy({ type: 'welcome', index: this.#openedWith });
  }

  /** The attempt failed before `welcome`, for a reason that may be the transport's. */
  failed(): void {
    this.#policy({ type: 'failed', index: this.#openedWith });
  }

  /** `connect()`: still on a fallback after a `disconnect()`, keep it, and the plan to try the first transport again. */
  resume(): void {
    if (this.#state.current > 0 && this.#timer === undefined) this.#retryFirstLater();
  }

  /** `disconnect()`: no trial of the first transport while disconnected. */
  pause(): void {
    this.#cancelRetryFirst();
  }

  /** The browser came back online: try the first transport again now. */
  online(): void {
    this.#policy({ type: 'retry-first' });
  }

  /** Run one input through the fallback policy, and its effects. */
  #policy(input: FallbackInput): void {
    const fb = this.opts;
    if (!fb) return;
    const { state, effects } = fallbackStep(this.#state, input, {
      count: this.slots.length,
      failures: fb.failures,
    });
    this.#state = state;
    for (const effect of effects) {
      if (effect.type === 'probe') {
        fb.probe().then(
          (ok) => this.#policy({ type: 'probed', ok }),
          () => this.#policy({ type: 'probed', ok: false }),
        );
      } else if (effect.type === 'schedule-retry') {
        this.#retryFirstLater();
      } else if (effect.type === 'cancel-retry') {
        this.#cancelRetryFirst();
      } else if (effect.reconnect) {
        this.replace();
      }
    }
  }

  #retryFirstLater(): void {
    const fb = this.opts;
    if (!fb) return;
    this.#cancelRetryFirst();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#policy({ type: 'retry-first' });
    }, fb.retryMs);
  }

  #cancelRetryFirst(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
