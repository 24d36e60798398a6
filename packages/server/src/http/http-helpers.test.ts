import { describe, expect, it } from 'vitest';
import { formatLicensarioDate, parseLicensarioDate } from '../dates.js';
import { ServiceError } from '../service-error.js';
import { bodyParams } from './body.js';
import { preferredFormat } from './negotiate.js';
import { Params, parseFormEncoded } from './params.js';
import { escapeXml } from './xml.js';

describe('parameters', () => {
  it('reads repeated keys, comma lists, key[] and drops bare keys', () => {
    const p = new Params(parseFormEncoded('f=a&f=b,c&g[]=d&bare&h=&sp=x+y%20z'));
    expect(p.list('f')).toEqual(['a', 'b', 'c']);
    expect(p.list('g')).toEqual(['d']);
    expect(p.list('bare')).toBeUndefined();
    expect(p.string('h')).toBe('');
    expect(p.string('sp')).toBe('x y z');
  });

  it('lets the body win over the query, key by key', () => {
    const p = new Params(
      parseFormEncoded('a=1&b=2'),
      bodyParams('application/json', '{"b":[3,"4"],"c":null}'),
    );
    expect(p.string('a')).toBe('1');
    expect(p.list('b')).toEqual(['3', '4']);
    expect(p.string('c')).toBeUndefined();
  });

  it('refuses JSON that is not an object, nested objects and unknown content types', () => {
    expect(() => bodyParams('application/json', '[1]')).toThrow(ServiceError);
    expect(() => bodyParams('application/json', '{"a":{"b":1}}')).toThrow(/Parameter "a"/);
    expect(() => bodyParams('text/csv', 'a,b')).toThrow(/Content-Type/);
    expect(bodyParams('text/csv', '')).toEqual(new Map());
  });

  it('reads booleans', () => {
    const p = new Params(parseFormEncoded('a=true&b=0&c=maybe'));
    expect([p.boolean('a'), p.boolean('b'), p.boolean('z')]).toEqual([true, false, undefined]);
    expect(() => p.boolean('c')).toThrow(/true or false/);
  });
});

describe('Accept negotiation', () => {
  it.each([
    [undefined, 'xml'],
    ['', 'xml'],
    ['*/*', 'xml'],
    ['application/json', 'json'],
    ['application/*', 'xml'],
    ['application/json, application/xml', 'xml'],
    ['application/xml;q=0.5, application/json', 'json'],
    ['application/json;q=0.4, text/xml', 'xml'],
    ['application/json;q=0, */*', 'xml'],
    ['text/html, application/json;q=0.9, */*;q=0.8', 'json'],
  ] as const)('%s → %s', (accept, expected) => {
    expect(preferredFormat(accept)).toBe(expected);
  });
});

describe('dates and XML', () => {
  it('formats and parses yyyymmddHHMMSS in UTC', () => {
    const ms = Date.UTC(2012, 6, 30, 13, 48, 48);
    expect(formatLicensarioDate(ms)).toBe('20120730134848');
    expect(parseLicensarioDate('20120730134848')).toBe(ms);
    expect(parseLicensarioDate('20120231000000')).toBeUndefined();
    expect(parseLicensarioDate('2012-07-30')).toBeUndefined();
  });

  it('escapes markup characters and drops characters XML cannot carry', () => {
    expect(escapeXml(`<a b="c" d='e'>&\u0001`)).toBe('&lt;a b=&quot;c&quot; d=&apos;e&apos;&gt;&amp;');
  });
});
