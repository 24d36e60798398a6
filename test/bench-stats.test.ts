import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script of the benchmark, without declarations
import { median, medianInterval } from '../bench/stats.mjs';

// docs/benchmarks.md decides each ratio target with these: a wrong interval would call a
// coin flip a result, or a result a coin flip.
describe('the benchmark statistics', () => {
  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('gives the same interval for the same rounds, around their median', () => {
    const ratios = [0.95, 0.97, 0.91, 0.96, 0.94, 0.93, 0.98, 0.92, 0.95, 0.96];
    const processes = ratios.map((_, i) => i % 5);
    const interval = medianInterval(ratios, processes);
    expect(medianInterval(ratios, processes)).toEqual(interval);
    expect(interval.low).toBeLessThanOrEqual(median(ratios));
    expect(interval.high).toBeGreaterThanOrEqual(median(ratios));
    expect(interval.low).toBeGreaterThanOrEqual(0.91);
    expect(interval.high).toBeLessThanOrEqual(0.98);
  });

  it('is one point when every round agrees', () => {
    expect(medianInterval([1, 1, 1, 1], [0, 1, 0, 1])).toEqual({ low: 1, high: 1 });
  });

  it('is wider when the spread is between processes than when it is within them', () => {
    // The same fifteen figures, five levels three times: each process at one level (luck that
    // lasts its whole life), against each process seeing every level.
    const levels = [0.9, 0.92, 0.94, 0.96, 0.98];
    const ratios = levels.flatMap((level) => [level - 0.004, level, level + 0.004]);
    const byProcess = ratios.map((_, i) => Math.floor(i / 3));
    const mixed = ratios.map((_, i) => i % 5);
    const between = medianInterval(ratios, byProcess);
    const within = medianInterval(ratios, mixed);
    expect(between.high - between.low).toBeGreaterThan(within.high - within.low);
  });
});
