/**
 * Amounts: validation at the edge and exact arithmetic inside.
 *
 * Usage is summed in integer nano-units (1e-9) held as `bigint`, so 0.1 + 0.2 charged twice is
 * exactly 0.3 at the service, and no number of small charges drifts. Conversion goes through
 * the shortest decimal string of the number (`String(0.1) === '0.1'`), not through `x * 1e9`,
 * which would carry the binary error of the double into the sum.
 */
import { InvalidAmountError } from '../errors.js';
import type { Usage } from './types.js';

/** Decimal places kept: amounts are exact to 1e-9. */
const SCALE_DIGITS = 9;
/** Nano-units per unit. */
export const SCALE = 10n ** BigInt(SCALE_DIGITS);
const MAX_SAFE_UNITS = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Integer nano-units of a finite number, rounded half away from zero at the 9th decimal.
 *
 * @example
 * toUnits(0.1); // 100000000n
 */
export function toUnits(value: number): bigint {
  // A gate charges the same amount on every request: the last answer is kept (bigints are
  // immutable, so sharing one is safe), which spares two bigint allocations per request.
  if (value === lastValue) return lastUnits;
  const units = computeUnits(value);
  lastValue = value;
  lastUnits = units;
  return units;
}

let lastValue = Number.NaN;
let lastUnits = 0n;

function computeUnits(value: number): bigint {
  // Whole amounts ("1 SMS") are the usual charge: skip the parse.
  if (Number.isSafeInteger(value)) return BigInt(value) * SCALE;
  const text = String(Math.abs(value));
  const match = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(text);
  if (!match) throw new RangeError(`not a finite number: ${text}`);
  const intPart = match[1] ?? '0';
  const fracPart = match[2] ?? '';
  const exponent = Number(match[3] ?? '0') + SCALE_DIGITS;
  const digits = intPart + fracPart;
  // Position of the decimal point in `digits` once scaled by 10^(9 + exponent).
  const point = intPart.length + exponent;
  let units: bigint;
  if (point <= 0) {
    units = point === 0 && (digits[0] ?? '0') >= '5' ? 1n : 0n;
  } else if (point >= digits.length) {
    units = BigInt(digits) * 10n ** BigInt(point - digits.length);
  } else {
    units = BigInt(digits.slice(0, point));
    if ((digits[point] ?? '0') >= '5') units += 1n;
  }
  return value < 0 ? -units : units;
}

/**
 * The number nearest to `units` nano-units (correctly rounded).
 *
 * @example
 * fromUnits(toUnits(0.1) + toUnits(0.2)); // 0.3
 */
export function fromUnits(units: bigint): number {
  // While units is exactly representable, one IEEE division is correctly rounded (and exact
  // for whole amounts), with no BigInt division: this runs on every metered request.
  if (units <= MAX_SAFE_UNITS && units >= -MAX_SAFE_UNITS) return Number(units) / 1e9;
  const whole = units / SCALE;
  const frac = units % SCALE;
  if (frac === 0n) return Number(whole);
  return Number(`${whole}.${(frac < 0n ? -frac : frac).toString().padStart(SCALE_DIGITS, '0')}`);
}

/** One validated entry of a usage record. */
export interface UsageItem {
  featureId: string;
  amount: number;
  units: bigint;
}

/**
 * Validates a usage record: a non-empty object of finite amounts > 0 (at least 1e-9).
 * Throws `InvalidAmountError` (code `TOLLGATE_INVALID_AMOUNT`) otherwise: a bad amount is a
 * programming error and must never turn into a silent charge of NaN or Infinity.
 *
 * @example
 * parseUsage({ sms: 2 }); // [{ featureId: 'sms', amount: 2, units: 2000000000n }]
 */
export function parseUsage(usage: Usage): UsageItem[] {
  if (typeof usage !== 'object' || usage === null || Array.isArray(usage)) {
    throw new InvalidAmountError(
      'usage must be an object of featureId → amount, e.g. { sms: 1 }; refunds go through reservation.release().',
      { amount: usage },
    );
  }
  const featureIds = Object.keys(usage);
  // Sized up front: a first push would reserve room for 17 (once per metered request).
  const items = new Array<UsageItem>(featureIds.length);
  for (let i = 0; i < featureIds.length; i++) {
    const featureId = featureIds[i]!;
    const amount = usage[featureId] as number;
    items[i] = { featureId, amount, units: usageUnits(featureId, amount) };
  }
  if (items.length === 0) {
    throw new InvalidAmountError('usage is empty: pass at least one featureId → amount, e.g. { sms: 1 }.', {
      amount: usage,
    });
  }
  return items;
}

/**
 * The units of one feature's usage, validated as {@link parseUsage} does each entry: throws
 * `InvalidAmountError` for anything but a finite number of at least 1e-9.
 *
 * @example
 * usageUnits('sms', 2); // 2000000000n
 */
export function usageUnits(featureId: string, amount: unknown): bigint {
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0) {
    throw new InvalidAmountError(
      `Usage of "${featureId}" must be a finite number > 0 (got ${String(amount)}); refunds go through reservation.release().`,
      { amount, featureId },
    );
  }
  const units = toUnits(amount);
  if (units === 0n) {
    throw new InvalidAmountError(
      `Usage of "${featureId}" is below the smallest chargeable amount (1e-9); got ${String(amount)}.`,
      { amount, featureId },
    );
  }
  return units;
}

/**
 * The usage record `{ [featureId]: amount }` of one feature.
 *
 * @example
 * usageOf('sms', 1); // { sms: 1 }
 */
export function usageOf(featureId: string, amount: number): Usage {
  // Assigned, not a computed key in the literal: the cheaper shape, once per metered request.
  const usage: Record<string, number> = {};
  // Assigning `__proto__` would set the prototype, not a property: define that one instead.
  if (featureId === '__proto__') Object.defineProperty(usage, featureId, { value: amount, enumerable: true });
  else usage[featureId] = amount;
  return usage;
}
