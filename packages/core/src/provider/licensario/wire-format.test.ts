import { describe, expect, it } from 'vitest';
import { formatWireDate, parseWireDate, parseWireDecimal } from './wire-format.js';

describe('Licensario wire dates (yyyymmddHHMMSS, UTC)', () => {
  it('reads a date as UTC and writes it back unchanged', () => {
    const date = parseWireDate('20120730134848');
    expect(date?.toISOString()).toBe('2012-07-30T13:48:48.000Z');
    expect(formatWireDate(date!)).toBe('20120730134848');
  });

  it('rejects impossible dates instead of rolling them over', () => {
    expect(parseWireDate('20120231000000')).toBeUndefined();
    expect(parseWireDate('20121301000000')).toBeUndefined();
    expect(parseWireDate('2012-07-30')).toBeUndefined();
    expect(parseWireDate('201207301348480')).toBeUndefined();
  });

  it('writes a date in UTC whatever the local zone, dropping milliseconds', () => {
    expect(formatWireDate(new Date('2026-01-02T03:04:05.678Z'))).toBe('20260102030405');
  });
});

describe('Licensario wire decimals', () => {
  it('reads plain decimals, negative ones included', () => {
    expect(parseWireDecimal('1200.0')).toBe(1200);
    expect(parseWireDecimal('12.38')).toBe(12.38);
    expect(parseWireDecimal('-0.5')).toBe(-0.5);
    expect(parseWireDecimal('25')).toBe(25);
    expect(parseWireDecimal('.5')).toBe(0.5);
  });

  it('refuses anything that is not a plain decimal', () => {
    for (const text of ['', 'NaN', '1e3', 'Infinity', '1,5', ' 1', '0x10']) {
      expect(parseWireDecimal(text), text).toBeUndefined();
    }
  });
});
