import { describe, expect, it } from 'vitest';
import { fromUnits, parseUsage, toUnits } from './amount.js';

const NANO = 1_000_000_000n;

/** Reference: the exact decimal of `units` nano-units, parsed by JavaScript (correctly rounded). */
const referenceNumber = (units: bigint): number => {
  const sign = units < 0n ? '-' : '';
  const abs = units < 0n ? -units : units;
  return Number(`${sign}${abs / NANO}.${(abs % NANO).toString().padStart(9, '0')}`);
};

// A deterministic spread of values: small, large, around 2^53, negative.
const integers = [0, 1, 2, 7, 99, 100, 1_000, 123_456_789, 2 ** 31, 2 ** 40 + 3, 9_007_199, 9_007_200];
const safeEdges = [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, 2 ** 52 + 1];

describe('amounts in nano-units', () => {
  it('converts whole amounts exactly, including past the point where units exceed 2^53', () => {
    for (const n of [...integers, ...safeEdges]) {
      expect(toUnits(n)).toBe(BigInt(n) * NANO);
      expect(toUnits(-n)).toBe(-BigInt(n) * NANO);
    }
    // Past MAX_SAFE_INTEGER the double is still an integer: the decimal path takes it.
    expect(toUnits(1e21)).toBe(10n ** 30n);
  });

  it('keeps decimal amounts exact to 1e-9, rounding half away from zero', () => {
    expect(toUnits(0.1)).toBe(100_000_000n);
    expect(toUnits(2.5)).toBe(2_500_000_000n);
    expect(toUnits(1e-9)).toBe(1n);
    expect(toUnits(5e-10)).toBe(1n);
    expect(toUnits(4e-10)).toBe(0n);
    expect(toUnits(-0.0000000015)).toBe(-2n);
    expect(toUnits(0.1) + toUnits(0.2)).toBe(toUnits(0.3));
  });

  it('turns units back into the nearest number, on both sides of 2^53 units', () => {
    const samples = [
      0n,
      1n,
      999_999_999n,
      NANO,
      300_000_000n,
      12_380_000_000n,
      9_007_199_254_740_991n,
      9_007_199_254_740_993n,
      123_456_789_123_456_789n,
      10n ** 30n,
    ];
    for (const units of samples) {
      expect(fromUnits(units)).toBe(referenceNumber(units));
      expect(fromUnits(-units)).toBe(referenceNumber(-units));
    }
    expect(fromUnits(toUnits(0.1) + toUnits(0.2))).toBe(0.3);
    for (const n of integers) expect(fromUnits(toUnits(n))).toBe(n);
  });

  it('refuses usage that is not a finite amount above zero', () => {
    expect(parseUsage({ sms: 2 })).toEqual([{ featureId: 'sms', amount: 2, units: 2n * NANO }]);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e-12]) {
      expect(() => parseUsage({ sms: bad })).toThrow(
        expect.objectContaining({ code: 'TOLLGATE_INVALID_AMOUNT' }),
      );
    }
  });
});
