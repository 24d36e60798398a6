/**
 * The engine's `reserveCached` for one feature, for the metered gates: the same decision and
 * reservation without a usage record to parse (a record, its keys, items and lookups are
 * arrays and objects made on every metered request). Not public API: the gates reach it
 * through this symbol when their engine has it, and use `reserveCached` otherwise.
 */
import type { Subject } from '../types.js';
import type { Reservation } from './types.js';

export const reserveOneCached: unique symbol = Symbol('tollgate.reserveOneCached');

/** An engine with the one-feature path. */
export interface ReserveOne {
  /**
   * `reserveCached(subject, { [featureId]: amount }, { planId })`, with the same validation
   * (a bad amount throws `InvalidAmountError`) and the same result.
   */
  [reserveOneCached](
    subject: Subject,
    featureId: string,
    amount: number,
    planId: string | undefined,
  ): Reservation | undefined;
}
