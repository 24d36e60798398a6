import { describe, expect, it } from 'vitest';
import { preferredMediaType } from './accept.js';

const LICENSE = ['application/xml', 'text/xml', 'application/json'] as const;

describe('preferredMediaType', () => {
  it.each([
    ['application/xml;q=0.5, application/json', 'application/json'],
    ['text/xml, application/json;q=0.4', 'text/xml'],
    ['*/*', 'application/xml'],
    ['application/*;q=0.2, application/json', 'application/json'],
    ['application/json;q=0, */*;q=0.1', 'application/xml'],
    ['APPLICATION/JSON', 'application/json'],
    ['application/json;q=abc, application/xml;q=0.1', 'application/xml'],
    ['application/json;q, application/xml;q=0.1', 'application/xml'],
    ['application/json;q=7, application/xml;q=1', 'application/xml'],
  ])('%j → %s', (accept, expected) => {
    expect(preferredMediaType(accept, LICENSE)).toBe(expected);
  });

  it('answers undefined when the header is missing or accepts none of the candidates', () => {
    expect(preferredMediaType(undefined, LICENSE)).toBeUndefined();
    expect(preferredMediaType('', LICENSE)).toBeUndefined();
    expect(preferredMediaType('image/png, text/html', LICENSE)).toBeUndefined();
    expect(preferredMediaType('application/json;q=0', ['application/json'])).toBeUndefined();
  });

  it('reads several header lines as one list', () => {
    expect(preferredMediaType(['application/xml;q=0.3', 'application/json'], LICENSE)).toBe(
      'application/json',
    );
  });
});
