/**
 * Circuit breaker: after `failureThreshold` consecutive failures the circuit opens and calls
 * fail fast, except one probe per `resetMs`; the probe's success closes it. A dead service
 * then sees probes, not the full load.
 */
import { UnavailableError } from '../errors.js';
import type { Clock } from './types.js';

export interface CircuitListener {
  opened(failures: number): void;
  closed(): void;
}

/**
 * Consecutive-failure circuit breaker with a single probe per `resetMs`.
 *
 * @example
 * const probe = circuit.admit(); // throws UnavailableError('circuit_open') while open
 */
export class Circuit {
  #failures = 0;
  #openedAt: number | undefined;
  #probing = false;
  readonly #threshold: number;
  readonly #resetMs: number;
  readonly #clock: Clock;
  readonly #listener: CircuitListener;

  constructor(options: {
    failureThreshold: number;
    resetMs: number;
    clock: Clock;
    listener: CircuitListener;
  }) {
    this.#threshold = options.failureThreshold;
    this.#resetMs = options.resetMs;
    this.#clock = options.clock;
    this.#listener = options.listener;
  }

  get isOpen(): boolean {
    return this.#openedAt !== undefined;
  }

  /**
   * Asks to make a call. Returns `true` when the call is the probe of an open circuit. Throws
   * `UnavailableError('circuit_open')` when the call must not go out.
   */
  admit(): boolean {
    if (this.#openedAt === undefined) return false;
    if (!this.#probing && this.#clock.now() - this.#openedAt >= this.#resetMs) {
      this.#probing = true;
      return true;
    }
    throw new UnavailableError(
      'The entitlement service failed repeatedly, so calls are paused (circuit open); it is probed again shortly.',
      'circuit_open',
    );
  }

  success(probe: boolean): void {
    this.#failures = 0;
    if (probe) this.#probing = false;
    if (this.#openedAt !== undefined) {
      this.#openedAt = undefined;
      this.#probing = false;
      this.#listener.closed();
    }
  }

  failure(probe: boolean): void {
    this.#failures += 1;
    if (probe) {
      this.#probing = false;
      this.#openedAt = this.#clock.now();
      return;
    }
    if (this.#openedAt === undefined && this.#failures >= this.#threshold) {
      this.#openedAt = this.#clock.now();
      this.#listener.opened(this.#failures);
    }
  }

  /** A call that ended without saying anything about the service's health (e.g. a 404). */
  neutral(probe: boolean): void {
    this.success(probe);
  }
}
