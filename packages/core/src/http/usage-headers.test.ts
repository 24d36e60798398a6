import { describe, expect, it } from 'vitest';
import type { Decision } from '../engine/types.js';
import { forEachUsageHeader, usageHeaders } from './usage-headers.js';

const decision = (featureId: string, remaining?: number): Decision => ({
  featureId,
  allowed: true,
  reason: 'licensed',
  source: 'cache',
  ageMs: 0,
  ...(remaining === undefined ? {} : { remaining }),
});

const collected = (decisions: Record<string, Decision>) => {
  const headers: Record<string, string> = {};
  forEachUsageHeader(decisions, (name, value) => {
    headers[name] = value;
  });
  return headers;
};

describe('forEachUsageHeader', () => {
  it.each([
    ['one metered feature', { sms: decision('sms', 41) }],
    ['a decimal allocation', { sms: decision('sms', 12.3806) }],
    ['another feature after sms', { mms: decision('mms', 9) }],
    ['a whole balance past the sf-decimal range', { sms: decision('sms', 5e12) }],
    ['a whole balance past the sf-integer range', { sms: decision('sms', 2e15) }],
    ['an overdrawn balance', { sms: decision('sms', -3) }],
    ['nothing left', { sms: decision('sms', 0) }],
    ['a boolean feature (no remaining)', { reports: decision('reports') }],
    ['a feature id that needs escaping', { 'a"b': decision('a"b', 2) }],
    ['a feature id an sf-string cannot carry', { é: decision('é', 2) }],
    ['two metered gates', { sms: decision('sms', 41.5), mms: decision('mms', 2) }],
    ['a metered and a boolean gate', { reports: decision('reports'), sms: decision('sms', 7) }],
    ['no gate', {}],
  ])('sets the same headers as usageHeaders: %s', (_name, decisions: Record<string, Decision>) => {
    expect(collected(decisions)).toEqual(usageHeaders(Object.values(decisions)));
  });

  it.each([
    ['one metered gate', { sms: decision('sms', 3) }],
    ['two metered gates', { sms: decision('sms', 3), mms: decision('mms', 1) }],
  ])('hands the target to the setter with every header: %s', (_name, decisions: Record<string, Decision>) => {
    const headers = new Map<string, string>();
    forEachUsageHeader(decisions, (name, value, target) => target.set(name, value), headers);
    expect(Object.fromEntries(headers)).toEqual(usageHeaders(Object.values(decisions)));
  });

  it('writes the draft RateLimit field and the exact remaining for one feature', () => {
    expect(collected({ sms: decision('sms', 41.5) })).toEqual({
      ratelimit: '"sms";r=41',
      'tollgate-remaining': '"sms";r=41.5',
    });
  });
});
