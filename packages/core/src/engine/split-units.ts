/**
 * Quantities of nano-units that the metered hot path changes with plain numbers.
 *
 * Amounts are exact nano-unit bigints (see amount.ts). But every bigint operation allocates
 * and calls into the runtime, and inside an app, where each metered request finds its data
 * out of the CPU caches, one cost about 0.4 µs (measured against the same code on numbers),
 * with about ten per metered request. Nearly every balance and every charge is a whole number
 * of units ("1 SMS"). So a quantity that is one, within `Number.MAX_SAFE_INTEGER` units, is
 * kept in `whole` as a number, and `whole` is NaN when `nano` holds the quantity instead. It
 * is exact either way; the bigint is made only when something outside the hot path reads it.
 */
import { SCALE } from './amount.js';

/** A quantity held in one of two ways: `whole` units (a number), or `nano` units when `whole` is NaN. */
export interface SplitUnits {
  /** The quantity in units while it is whole and safe; NaN otherwise. */
  whole: number;
  /** The quantity in nano-units when `whole` is NaN (undefined: no quantity at all); unused otherwise. */
  nano: bigint | undefined;
}

const MAX_WHOLE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The quantity in nano-units (`undefined` only for a host that has none).
 *
 * @example
 * readUnits({ whole: 3, nano: 0n }); // 3000000000n
 */
export function readUnits(q: SplitUnits): bigint | undefined {
  return Number.isNaN(q.whole) ? q.nano : BigInt(q.whole) * SCALE;
}

/**
 * Sets the quantity, as a whole number when it is one.
 *
 * @example
 * const q = { whole: 0, nano: 0n };
 * writeUnits(q, 2_500_000_000n); // q.whole is NaN, q.nano 2500000000n
 */
export function writeUnits(q: SplitUnits, units: bigint | undefined): void {
  if (units !== undefined && units % SCALE === 0n) {
    const whole = units / SCALE;
    if (whole <= MAX_WHOLE && whole >= -MAX_WHOLE) {
      q.whole = Number(whole);
      q.nano = 0n;
      return;
    }
  }
  q.whole = Number.NaN;
  q.nano = units;
}

/**
 * Adds `n` whole units (a safe integer, may be negative) to a quantity that has one: with
 * numbers while the sum stays whole and safe, through the bigint otherwise.
 *
 * @example
 * const q = { whole: 3, nano: 0n };
 * addWhole(q, -1); // q.whole === 2
 */
export function addWhole(q: SplitUnits, n: number): void {
  // NaN fails both tests, and so does a sum past the safe range: rounding cannot bring a
  // true sum above MAX_SAFE_INTEGER back below 2^53.
  const sum = q.whole + n;
  if (sum <= Number.MAX_SAFE_INTEGER && sum >= -Number.MAX_SAFE_INTEGER) q.whole = sum;
  else writeUnits(q, (readUnits(q) ?? 0n) + BigInt(n) * SCALE);
}

/**
 * Whole units of a charge for {@link addWhole}: the amount itself when it is a safe integer
 * (the usual "1 SMS"), else NaN, and the caller goes through the bigint.
 *
 * @example
 * wholeAmount(2); // 2
 * wholeAmount(0.5); // NaN
 */
export function wholeAmount(amount: number): number {
  return Number.isSafeInteger(amount) ? amount : Number.NaN;
}
