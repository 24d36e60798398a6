/**
 * Units this instance has authorized but the service may not know about yet, per
 * (subject, feature): held by open reservations, queued, or in a flush in flight.
 *
 * A fresh answer from the service is turned into a local view as
 * `remaining − outstanding − (flushed during the request)`: a batch whose flush completed
 * while the read was in flight may or may not be in the answer, so it is assumed not to be.
 * That errs towards denying a few units until the next refresh, never towards granting
 * units the service has already given away.
 */
import { addWhole, readUnits, type SplitUnits, writeUnits } from './split-units.js';

/** One (subject, feature)'s outstanding units. */
export class Line implements SplitUnits {
  /** Outstanding units (below) in whole units while they are whole; NaN otherwise. */
  whole = 0;
  /** Outstanding nano-units when `whole` is NaN. */
  nano: bigint | undefined = 0n;
  /** Monotonic: units of this key flushed, starting from the global total at creation. */
  flushed: bigint;
  /** Reads in flight that took a mark; the line is kept until they finish. */
  readers = 0;
  /** Set once the ledger dropped the line: a reference kept elsewhere must look the key up again. */
  dropped = false;

  constructor(flushed: bigint) {
    this.flushed = flushed;
  }

  /** Units held by open reservations, queued, or in a flush in flight. */
  get outstanding(): bigint {
    return readUnits(this) ?? 0n;
  }

  set outstanding(units: bigint) {
    writeUnits(this, units);
  }

  /** No units outstanding (zero or less). */
  get idle(): boolean {
    return Number.isNaN(this.whole) ? this.outstanding <= 0n : this.whole <= 0;
  }
}

/** A line's key, and the line last held on through it (see {@link Ledger.holdWhole}). */
export interface LineRef {
  line: string;
  ledgerLine: Line | undefined;
}

/**
 * Outstanding (not yet recorded) units per (subject, feature).
 *
 * @example
 * ledger.hold(line, 5n); ledger.flushed(line, 5n); // outstanding back to 0
 */
export class Ledger {
  readonly #lines = new Map<string, Line>();
  /** Units flushed by every key, ever. A new line starts here so marks never go backwards. */
  #flushedTotal = 0n;

  outstanding(key: string): bigint {
    return this.#lines.get(key)?.outstanding ?? 0n;
  }

  /** Taken before a read of the service; pass it to {@link flushedSince} (always) afterwards. */
  mark(key: string): bigint {
    const line = this.#line(key);
    line.readers += 1;
    return line.flushed;
  }

  /** Units of the key flushed since the mark; ends the read that took it. */
  flushedSince(key: string, mark: bigint): bigint {
    const line = this.#lines.get(key);
    if (!line) return 0n;
    line.readers -= 1;
    const since = line.flushed - mark;
    this.#collect(key, line);
    return since > 0n ? since : 0n;
  }

  /** Units authorized locally (a reservation or queued usage). */
  hold(key: string, units: bigint): void {
    this.#line(key).outstanding += units;
  }

  /**
   * {@link hold} of a whole number of units, with no bigint (the metered hot path), on the
   * line `at` names. `at.ledgerLine` keeps the line it was last held on, so the next hold
   * skips the map lookup while the ledger still has that line.
   */
  holdWhole(at: LineRef, whole: number): void {
    let line = at.ledgerLine;
    if (line === undefined || line.dropped) {
      line = this.#line(at.line);
      at.ledgerLine = line;
    }
    addWhole(line, whole);
  }

  /** Units given back (released) without reaching the service. */
  unhold(key: string, units: bigint): void {
    this.#settle(key, units, false);
  }

  /** Units the service has now recorded. */
  flushed(key: string, units: bigint): void {
    this.#flushedTotal += units;
    this.#settle(key, units, true);
  }

  #settle(key: string, units: bigint, flushed: boolean): void {
    const line = this.#lines.get(key);
    if (!line) return;
    line.outstanding -= units;
    if (flushed) line.flushed += units;
    this.#collect(key, line);
  }

  #line(key: string): Line {
    let line = this.#lines.get(key);
    if (!line) {
      line = new Line(this.#flushedTotal);
      this.#lines.set(key, line);
    }
    return line;
  }

  /** Idle lines are dropped, so the map is bounded by pending work and reads in flight. */
  #collect(key: string, line: Line): void {
    if (line.idle && line.readers <= 0) {
      this.#lines.delete(key);
      line.dropped = true;
    }
  }
}
