import { describe, expect, it } from 'vitest';
import { addWhole, readUnits, type SplitUnits, wholeAmount, writeUnits } from './split-units.js';

const MAX = Number.MAX_SAFE_INTEGER;
const units = (whole: number | bigint) => BigInt(whole) * 1_000_000_000n;
const quantity = (value: bigint | undefined): SplitUnits => {
  const q: SplitUnits = { whole: Number.NaN, nano: undefined };
  writeUnits(q, value);
  return q;
};

describe('quantities kept as whole units while they are whole', () => {
  it.each([
    ['a whole amount', units(41), 41],
    ['zero', 0n, 0],
    ['a negative whole amount', -units(3), -3],
    ['the largest safe whole amount', units(MAX), MAX],
  ])('holds %s as a number', (_name, value, whole) => {
    const q = quantity(value);
    expect(q.whole).toBe(whole);
    expect(readUnits(q)).toBe(value);
  });

  it.each([
    ['a decimal amount', 2_500_000_000n],
    ['one nano-unit', 1n],
    ['one unit past the safe range', units(MAX) + units(1)],
    ['no quantity', undefined],
  ])('holds %s as nano-units', (_name, value) => {
    const q = quantity(value);
    expect(q.whole).toBeNaN();
    expect(readUnits(q)).toBe(value);
  });

  it('adds whole units with numbers, and through the bigint past the safe range and back', () => {
    const q = quantity(units(MAX - 1));
    addWhole(q, 1);
    expect(q.whole).toBe(MAX);
    addWhole(q, 2);
    expect(q.whole).toBeNaN();
    expect(readUnits(q)).toBe(units(MAX) + units(2));
    addWhole(q, -2);
    expect(q.whole).toBe(MAX);
    addWhole(q, -MAX);
    addWhole(q, -MAX);
    expect(q.whole).toBe(-MAX);
    addWhole(q, -1);
    expect(readUnits(q)).toBe(-units(MAX) - units(1));
  });

  it('adds whole units to a decimal quantity exactly, and is whole again once the sum is', () => {
    const q = quantity(500_000_000n);
    addWhole(q, 7);
    expect(readUnits(q)).toBe(7_500_000_000n);
    expect(q.whole).toBeNaN();
    writeUnits(q, (readUnits(q) ?? 0n) + 500_000_000n);
    expect(q.whole).toBe(8);
  });

  it.each([
    [1, 1],
    [250, 250],
    [0.5, Number.NaN],
    [2 ** 53, Number.NaN],
  ])('takes the charge %s as whole units %s', (amount, whole) => {
    expect(wholeAmount(amount)).toBe(whole);
  });
});
