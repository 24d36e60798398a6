/**
 * A small typed event emitter. Listeners run synchronously; one that throws is logged and
 * skipped, because observability must never break a request (STYLE.md: side work never
 * crashes the request path).
 */
import { ConfigurationError } from '../errors.js';
import type { Logger, TollgateEventName, TollgateEvents } from './types.js';

type Listener<E extends TollgateEventName> = (payload: TollgateEvents[E]) => void;

/**
 * Typed, failure-isolated event emitter.
 *
 * @example
 * const off = emitter.on('flush:ok', ({ amount }) => log(amount));
 */
export class Emitter {
  // A fixed-shape object, not a Map: `has` runs on every gated request (for `cache:hit` and
  // `decision`), and a named property read is cheaper there than hashing into a Map.
  readonly #listeners: Record<string, Set<Listener<never>> | undefined> = noListeners();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Throws a `ConfigurationError` for a name that is not an event (it would never fire). */
  on<E extends TollgateEventName>(event: E, listener: Listener<E>): () => void {
    if (!isEventName(event)) {
      throw new ConfigurationError(
        `on(${JSON.stringify(event)}): not an event; use one of ${EVENT_NAMES.join(', ')}.`,
      );
    }
    let set = this.#listeners[event];
    if (!set) {
      set = new Set();
      this.#listeners[event] = set;
    }
    const entry = listener as Listener<never>;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** Cheap check so the hot path builds no payload nobody listens to. */
  has(event: TollgateEventName): boolean {
    const set = this.#listeners[event];
    return set !== undefined && set.size > 0;
  }

  emit<E extends TollgateEventName>(event: E, payload: TollgateEvents[E]): void {
    const set = this.#listeners[event];
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

/**
 * Whether `name` is one of the engine's events.
 *
 * @example
 * isEventName('cache:hit'); // true
 */
export function isEventName(name: string): name is TollgateEventName {
  return Object.hasOwn(NAMED, name);
}

/** Every event, none listened to yet: typed as a Record so a new event cannot be left out. */
function noListeners(): Record<TollgateEventName, Set<Listener<never>> | undefined> {
  return {
    decision: undefined,
    'cache:hit': undefined,
    'cache:miss': undefined,
    'cache:stale': undefined,
    'flush:ok': undefined,
    'flush:failed': undefined,
    'usage:dropped': undefined,
    'backend:error': undefined,
    'circuit:open': undefined,
    'circuit:closed': undefined,
    fallback: undefined,
    'meter:full': undefined,
  };
}

const NAMED = noListeners();
/** The engine's event names. */
export const EVENT_NAMES = Object.keys(NAMED) as TollgateEventName[];
