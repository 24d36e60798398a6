/**
 * Every call to the provider goes through here: one time budget per operation (retries
 * included), jittered exponential backoff for idempotent operations, and the circuit.
 */
import { HttpError, InvalidResponseError, isTollgateError, UnavailableError } from '../errors.js';
import type { Circuit } from './circuit.js';
import type { Emitter } from './events.js';
import type { Clock } from './types.js';

export interface BackendOptions {
  timeoutMs: number;
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  circuit: Circuit;
  emitter: Emitter;
  clock: Clock;
}

/**
 * True when the error says the service is unhealthy (as opposed to a definite answer).
 *
 * @example
 * isServiceFailure(new UnavailableError('down', 'refused')); // true
 */
export function isServiceFailure(error: unknown): boolean {
  if (error instanceof HttpError || (isTollgateError(error) && error.code === 'TOLLGATE_HTTP')) {
    const status = (error as HttpError).status;
    return status >= 500 || status === 429 || status === 408;
  }
  if (isTollgateError(error)) {
    return error.code === 'TOLLGATE_UNAVAILABLE' || error.code === 'TOLLGATE_INVALID_RESPONSE';
  }
  // Not one of ours: a bug in a custom provider or a raw network error. Treat as a failure.
  return true;
}

function isRetryable(error: unknown): boolean {
  if (error instanceof InvalidResponseError) return false;
  if (isTollgateError(error) && error.code === 'TOLLGATE_UNAVAILABLE') {
    return (
      (error as UnavailableError).reason !== 'circuit_open' &&
      (error as UnavailableError).reason !== 'aborted'
    );
  }
  return isTollgateError(error) && isServiceFailure(error);
}

/**
 * Runs provider calls under the budget, retry and circuit rules.
 *
 * @example
 * const licenses = await backend.run('getLicenses', (signal) => provider.getLicenses(s, {}, { signal }), { idempotent: true });
 */
export class Backend {
  readonly #o: BackendOptions;

  constructor(options: BackendOptions) {
    this.#o = options;
  }

  /**
   * Runs `call` under the budget. `idempotent` calls (reads, writes carrying an idempotency
   * key) are retried on service failures while the budget lasts.
   */
  async run<T>(
    operation: string,
    call: (signal: AbortSignal) => Promise<T>,
    options: { idempotent: boolean; timeoutMs?: number },
  ): Promise<T> {
    const probe = this.#o.circuit.admit();
    const budget = options.timeoutMs ?? this.#o.timeoutMs;
    const started = this.#o.clock.now();
    const controller = new AbortController();
    let onTimeout: ((error: UnavailableError) => void) | undefined;
    const expired = new Promise<never>((_, reject) => {
      onTimeout = reject;
    });
    // The loser of a race must not become an unhandled rejection.
    expired.catch(() => {});
    const timer = setTimeout(() => {
      const error = new UnavailableError(
        `The entitlement service did not answer ${operation} within ${budget} ms; raise timeoutMs if it is slow but healthy.`,
        'timeout',
      );
      controller.abort(error);
      onTimeout?.(error);
    }, budget);
    timer.unref?.();
    try {
      const attempts = options.idempotent ? this.#o.retry.attempts : 1;
      for (let attempt = 1; ; attempt += 1) {
        try {
          const result = await Promise.race([call(controller.signal), expired]);
          this.#o.circuit.success(probe);
          return result;
        } catch (error) {
          const timedOut = controller.signal.aborted;
          const failure = timedOut ? (controller.signal.reason as unknown) : error;
          const delay = this.#delay(attempt);
          const left = budget - (this.#o.clock.now() - started);
          if (!timedOut && attempt < attempts && isRetryable(error) && delay < left) {
            await Promise.race([sleep(delay), expired]).catch(() => {});
            if (!controller.signal.aborted) continue;
          }
          const final = controller.signal.aborted ? (controller.signal.reason as unknown) : failure;
          if (isServiceFailure(final)) {
            this.#o.circuit.failure(probe);
            this.#o.emitter.emit('backend:error', { operation, error: final });
          } else {
            this.#o.circuit.neutral(probe);
          }
          throw final;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
  #delay(attempt: number): number {
    const { baseDelayMs, maxDelayMs } = this.#o.retry;
    const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(Math.random() * cap);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref?.();
  });
}
