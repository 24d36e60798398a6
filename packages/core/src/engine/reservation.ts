/**
 * The `Reservation` objects the engine returns (`reserve`/`reserveCached`, and the metered
 * gates' one-feature path): a decision, and a commit and a release of which only the first
 * call does anything.
 *
 * Classes instead of closures built per call: a batched metered request creates one
 * reservation, and its closures (with their contexts) were a good part of what it allocated.
 */
import { SETTLED } from './settled.js';
import type { Decision, Reservation, UsageDecision } from './types.js';

/**
 * How the charges of a reservation are committed or given back. One object per engine and
 * mode, shared by every reservation; `charges` is what each reservation carries.
 */
export interface Settler<T> {
  commit(charges: T): Promise<void>;
  release(charges: T): Promise<void>;
  /**
   * Commits by the end of this turn of the event loop, for a caller that does not wait on it:
   * the gates, which commit when a response closes. Batched commits of one turn are then
   * queued together, with their code and data still in the CPU caches.
   */
  commitSoon?(charges: T): void;
}

/** A settler with nothing to do: denied reservations, and ones already settled. */
export const NOTHING_TO_SETTLE: Settler<unknown> = { commit: () => SETTLED, release: () => SETTLED };

/**
 * Commit and release of which only the first call does anything. A synchronous throw of the
 * settler becomes a rejected promise, as from an async function.
 *
 * `commit` and `release` are built on first access and kept, so they work detached
 * (`res.on('finish', reservation.commit)`); the gates call {@link settle} and build neither.
 */
abstract class SettlesOnce<T> {
  #settled: boolean;
  readonly #settler: Settler<T>;
  readonly #charges: T;
  #commit: (() => Promise<void>) | undefined;
  #release: (() => Promise<void>) | undefined;

  /** `settled`: already settled (nothing may run any more), e.g. a denial. */
  constructor(settled: boolean, settler: Settler<T>, charges: T) {
    this.#settled = settled;
    this.#settler = settler;
    this.#charges = charges;
    this.#commit = undefined;
    this.#release = undefined;
  }

  get commit(): () => Promise<void> {
    this.#commit ??= () => this.settle(true);
    return this.#commit;
  }

  get release(): () => Promise<void> {
    this.#release ??= () => this.settle(false);
    return this.#release;
  }

  /**
   * Commits (`true`) or releases (`false`); a no-op after the first call of either. `soon`: a
   * commit may complete by the end of this turn (see {@link Settler.commitSoon}).
   */
  settle(commit: boolean, soon = false): Promise<void> {
    if (this.#settled) return SETTLED;
    this.#settled = true;
    try {
      if (commit && soon && this.#settler.commitSoon !== undefined) {
        this.#settler.commitSoon(this.#charges);
        return SETTLED;
      }
      return commit ? this.#settler.commit(this.#charges) : this.#settler.release(this.#charges);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/**
 * The reservation `reserve` and `reserveCached` return.
 *
 * @example
 * const r = new OnceReservation(decision, false, settler, charges);
 * await r.commit(); await r.release(); // the release is a no-op
 */
export class OnceReservation<T> extends SettlesOnce<T> implements Reservation {
  readonly decision: UsageDecision;

  constructor(decision: UsageDecision, settled: boolean, settler: Settler<T>, charges: T) {
    super(settled, settler, charges);
    this.decision = decision;
  }
}

/**
 * The reservation of one feature the metered gates take: they read the feature's decision, so
 * the usage decision (an object, an array and a usage record per request) is built only if
 * something reads `decision`.
 *
 * @example
 * const r = new FeatureReservation(decision, 1, summarize, false, settler, charges);
 * r.feature; // the decision for the feature
 */
export class FeatureReservation<T> extends SettlesOnce<T> implements Reservation {
  readonly feature: Decision;
  readonly #amount: number;
  readonly #summarize: (feature: Decision, amount: number) => UsageDecision;
  #decision: UsageDecision | undefined;

  constructor(
    feature: Decision,
    amount: number,
    summarize: (feature: Decision, amount: number) => UsageDecision,
    settled: boolean,
    settler: Settler<T>,
    charges: T,
  ) {
    super(settled, settler, charges);
    this.feature = feature;
    this.#amount = amount;
    this.#summarize = summarize;
    this.#decision = undefined;
  }

  get decision(): UsageDecision {
    this.#decision ??= this.#summarize(this.feature, this.#amount);
    return this.#decision;
  }
}

/**
 * Commits or releases any `Reservation`, for the gates: the engine's own settle without
 * building their detached `commit`/`release` functions (once per metered request), and a
 * batched commit of the engine's reservations completes by the end of this turn of the event
 * loop (`flush()` and `close()` include it), not before the returned promise resolves.
 *
 * @example
 * await settleReservation(reservation, 'commit');
 */
export function settleReservation(reservation: Reservation, action: 'commit' | 'release'): Promise<void> {
  if (reservation instanceof SettlesOnce) return reservation.settle(action === 'commit', true);
  return action === 'commit' ? reservation.commit() : reservation.release();
}
