/**
 * A small typed event emitter. Listeners run synchronously; one that throws is logged and
 * skipped, because observability must never break a request (STYLE.md: side work never
 * crashes the request path).
 */
import type { Logger, TollgateEventName, TollgateEvents } from './types.js';

type Listener<E extends TollgateEventName> = (payload: TollgateEvents[E]) => void;

/**
 * Typed, failure-isolated event emitter.
 *
 * @example
 * const off = emitter.on('flush:ok', ({ amount }) => log(amount));
 */
export class Emitter {
  readonly #listeners = new Map<TollgateEventName, Set<Listener<never>>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on<E extends TollgateEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    const entry = listener as Listener<never>;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** Cheap check so the hot path builds no payload nobody listens to. */
  has(event: TollgateEventName): boolean {
    const set = this.#listeners.get(event);
    return set !== undefined && set.size > 0;
  }

  emit<E extends TollgateEventName>(event: E, payload: TollgateEvents[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as Listener<E>)(payload);
      } catch (error) {
        this.#logger.error({ err: error, event }, 'tollgate: an event listener threw; the error was ignored');
      }
    }
  }
}
