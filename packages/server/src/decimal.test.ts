import { describe, expect, it } from 'vitest';
import { addDecimal, compareDecimal, formatAmount, parseAmount, subtractDecimal } from './decimal.js';
import { spreadUsage } from './store/store.js';

describe('parseAmount', () => {
  it('accepts finite decimals as strings or numbers', () => {
    expect(['25', '0.2', '12.38', '-0.5', '+3', '.5', '7.', ' 4 '].map(parseAmount)).toEqual([
      '25',
      '0.2',
      '12.38',
      '-0.5',
      '3',
      '0.5',
      '7',
      '4',
    ]);
    expect(parseAmount(0.1)).toBe('0.1');
    expect(parseAmount(-0)).toBe('0');
  });

  it('refuses what is not a finite decimal', () => {
    for (const bad of ['abc', 'NaN', 'Infinity', '-Infinity', '', ' ', '1e3', '0x10', '1,5', '--1', '.']) {
      expect(parseAmount(bad), bad).toBeUndefined();
    }
    expect(parseAmount(Number.NaN)).toBeUndefined();
    expect(parseAmount(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(parseAmount(null)).toBeUndefined();
  });
});

describe('decimal arithmetic', () => {
  it('is exact', () => {
    expect(addDecimal('0.1', '0.2')).toBe('0.3');
    expect(subtractDecimal('1', '0.25')).toBe('0.75');
    expect(subtractDecimal('0.25', '1')).toBe('-0.75');
    expect(compareDecimal('2', '10')).toBe(-1);
    expect(compareDecimal('1.50', '1.5')).toBe(0);
  });

  it('formats amounts with at least one decimal, as Licensario prints them', () => {
    expect(['1200', '35.50', '12.38', '0', '-2.380'].map(formatAmount)).toEqual([
      '1200.0',
      '35.5',
      '12.38',
      '0.0',
      '-2.38',
    ]);
  });
});

describe('spreadUsage (several licences granting one feature)', () => {
  const rows = [
    { total: '10', used: '8' },
    { total: '5', used: '0' },
    { total: '3', used: '1' },
  ];
  it('fills licences in order and puts the remainder on the last', () => {
    expect(spreadUsage(rows, '4')).toEqual(['2', '2', '0']);
    expect(spreadUsage(rows, '20')).toEqual(['2', '5', '13']);
  });
  it('refunds from the last towards the first, only the first going below 0', () => {
    expect(spreadUsage(rows, '-2')).toEqual(['-1', '0', '-1']);
    expect(spreadUsage(rows, '-12')).toEqual(['-11', '0', '-1']);
  });
});
