/**
 * The framework-free HTTP rules both adapters share (packages/core/src/http): problem
 * documents, usage headers, content negotiation, return_to validation, upsell locations,
 * amounts and the commit/release rule.
 */
import {
  ConfigurationError,
  type Decision,
  denialResponse,
  hasErrorCode,
  invalidAmountResponse,
  PROBLEM_TYPES,
  prefersHtml,
  RequestSettlement,
  type Reservation,
  resolveAmount,
  safeReturnTo,
  settlementFor,
  upsellDecision,
  upsellLocation,
  usageHeaders,
} from '@tollgate/core';
import { describe, expect, it } from 'vitest';

const denied = (reason: Decision['reason'], extra: Partial<Decision> = {}): Decision => ({
  allowed: false,
  reason,
  featureId: 'sms',
  source: 'backend',
  ageMs: 0,
  ...extra,
});

describe('denialResponse', () => {
  it.each([
    ['no_subject', 401, 'https://tollgate.dev/problems/no-subject'],
    ['not_licensed', 403, 'https://tollgate.dev/problems/not-licensed'],
    ['expired', 403, 'https://tollgate.dev/problems/expired'],
    ['exhausted', 402, 'https://tollgate.dev/problems/exhausted'],
    ['unavailable', 503, 'https://tollgate.dev/problems/unavailable'],
  ] as const)('maps %s to %i with type %s', (reason, status, type) => {
    const res = denialResponse(denied(reason, { planId: 'pro' }), { upgradeUrl: 'https://app.example/up' });
    expect(res.status).toBe(status);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(res.body).toMatchObject({ type, status, reason, featureId: 'sms', planId: 'pro' });
    expect(res.body.upgradeUrl).toBe('https://app.example/up');
    expect(res.body.detail).toContain('"sms"');
  });

  it('sends Retry-After only with 503 unavailable', () => {
    expect(denialResponse(denied('unavailable')).headers['Retry-After']).toBe('5');
    expect(denialResponse(denied('unavailable'), { retryAfterSeconds: 30 }).headers['Retry-After']).toBe(
      '30',
    );
    expect(denialResponse(denied('exhausted')).headers['Retry-After']).toBeUndefined();
  });

  it('sends WWW-Authenticate with 401 no_subject only, when configured', () => {
    const options = { wwwAuthenticate: 'Bearer realm="app"' };
    expect(denialResponse(denied('no_subject'), options).headers['WWW-Authenticate']).toBe(
      'Bearer realm="app"',
    );
    expect(denialResponse(denied('no_subject')).headers['WWW-Authenticate']).toBeUndefined();
    expect(denialResponse(denied('not_licensed'), options).headers['WWW-Authenticate']).toBeUndefined();
  });

  it('reports remaining and the usage headers on an exhausted metered feature', () => {
    const res = denialResponse(denied('exhausted', { remaining: 0.5 }));
    expect(res.body.remaining).toBe(0.5);
    expect(res.headers.ratelimit).toBe('"sms";r=0');
    expect(res.headers['tollgate-remaining']).toBe('"sms";r=0.5');
  });

  it('omits members that are not known', () => {
    const body = denialResponse(denied('not_licensed')).body;
    expect(Object.keys(body).sort()).toEqual(['detail', 'featureId', 'reason', 'status', 'title', 'type']);
  });

  it('refuses an allowed decision', () => {
    expect(() => denialResponse({ ...denied('licensed'), allowed: true })).toThrow(ConfigurationError);
  });

  it('answers a bad amount with 400 invalid-amount', () => {
    const res = invalidAmountResponse('sms');
    expect(res.status).toBe(400);
    expect(res.body.type).toBe(PROBLEM_TYPES.invalid_amount.type);
    expect(res.body.reason).toBe('invalid_amount');
  });
});

describe('usageHeaders', () => {
  const allowed = (featureId: string, remaining?: number): Decision => ({
    allowed: true,
    reason: 'licensed',
    featureId,
    source: 'backend',
    ageMs: 0,
    ...(remaining === undefined ? {} : { remaining }),
  });

  it('lists every metered decision, RateLimit rounded down and Tollgate-Remaining exact', () => {
    expect(usageHeaders([allowed('sms', 41.5), allowed('reports'), allowed('mms', 2)])).toEqual({
      ratelimit: '"sms";r=41, "mms";r=2',
      'tollgate-remaining': '"sms";r=41.5, "mms";r=2',
    });
  });

  it('keeps the latest decision per feature and rounds decimals down to 3 places', () => {
    expect(usageHeaders([allowed('sms', 10), allowed('sms', 12.3789)])).toEqual({
      ratelimit: '"sms";r=12',
      'tollgate-remaining': '"sms";r=12.378',
    });
  });

  it('escapes quotes, skips ids an sf-string cannot carry, and is empty without a remaining', () => {
    expect(usageHeaders([allowed('a"b\\c', 1)]).ratelimit).toBe('"a\\"b\\\\c";r=1');
    expect(usageHeaders([allowed('sms\n', 1), allowed('é', 1)])).toEqual({});
    expect(usageHeaders([allowed('reports')])).toEqual({});
  });
});

describe('prefersHtml', () => {
  it.each([
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
    ['text/html', true],
    ['text/*', true],
    ['application/json', false],
    ['application/problem+json, text/html;q=0.5', false],
    ['text/html;q=0.9, application/json', false],
    ['*/*', false],
    ['', false],
    ['text/html;q=0', false],
    ['application/json;q=0.1, text/html', true],
    ['TEXT/HTML', true],
  ])('%j → %s', (accept, expected) => {
    expect(prefersHtml(accept)).toBe(expected);
  });

  it('is false without an Accept header', () => {
    expect(prefersHtml(undefined)).toBe(false);
  });
});

describe('safeReturnTo', () => {
  it.each([
    ['/reports', '/reports'],
    ['/reports?year=2025&q=a%20b', '/reports?year=2025&q=a%20b'],
    ['/a/b#section', '/a/b#section'],
    ['/a/../b', '/b'],
    ['/', '/'],
    ['/path//with//doubles', '/path//with//doubles'],
  ])('keeps the same-origin path %j', (value, expected) => {
    expect(safeReturnTo(value)).toBe(expected);
  });

  it.each([
    'https://evil.example/',
    'http://evil.example',
    'HTTPS://evil.example',
    '//evil.example',
    '//evil.example/path',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '\\/evil.example',
    '/\\/evil.example',
    '/x\\y',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'evil.example',
    'reports',
    '/%2f%2fevil.example',
    '/%2F%2Fevil.example',
    '%2f%2fevil.example',
    '/%5cevil.example',
    '/%5Cevil.example',
    '%5c%5cevil.example',
    '/%252f%252fevil.example',
    '/%25252f%25252fevil.example',
    '/%255cevil.example',
    '%2F%2Fevil.example',
    '/%2fevil.example',
    '/\tevil.example',
    '/\t/evil.example',
    '/%09/evil.example',
    '/%0a/evil.example',
    '/%0d%0aLocation:%20http://evil.example',
    '/\r\nSet-Cookie: a=b',
    '/\u0000/evil.example',
    '/%00/evil.example',
    ' //evil.example',
    '/.//evil.example',
    '/..//evil.example',
    '/%2e//evil.example',
    '/%2e%2e//evil.example',
    '/a/../..//evil.example',
    '/%E2%80%A8/evil.example',
    '/%',
    '/%zz',
    '',
    `/${'a'.repeat(2048)}`,
    'http:/evil.example',
    'https:evil.example',
  ])('refuses %j', (value) => {
    expect(safeReturnTo(value)).toBeUndefined();
  });

  it('refuses values that are not strings', () => {
    expect(safeReturnTo(undefined)).toBeUndefined();
    expect(safeReturnTo(['/a'])).toBeUndefined();
    expect(safeReturnTo(42)).toBeUndefined();
  });
});

describe('upsellLocation', () => {
  it('adds feature, plan and a validated return_to to a relative page', () => {
    expect(
      upsellLocation({ to: '/pricing', featureId: 'reports', planId: 'pro', returnTo: '/reports?y=2025' }),
    ).toBe('/pricing?feature=reports&plan=pro&return_to=%2Freports%3Fy%3D2025');
  });

  it('keeps the page query and an absolute page', () => {
    expect(upsellLocation({ to: 'https://shop.example/up?src=app', featureId: 'a b' })).toBe(
      'https://shop.example/up?src=app&feature=a+b',
    );
  });

  it('drops an unsafe return_to and replaces one already in `to`', () => {
    expect(
      upsellLocation({
        to: '/pricing?return_to=//evil.example',
        featureId: 'sms',
        returnTo: '//evil.example',
      }),
    ).toBe('/pricing?feature=sms');
  });
});

describe('upsellDecision', () => {
  const html = 'text/html,*/*;q=0.8';

  it('redirects a browser with 303 and answers an API client with upgradeUrl', () => {
    const decision = denied('not_licensed', { featureId: 'reports', planId: 'pro' });
    expect(upsellDecision(decision, { to: '/pricing' }, { accept: html, returnTo: '/reports' })).toEqual({
      kind: 'redirect',
      status: 303,
      location: '/pricing?feature=reports&plan=pro&return_to=%2Freports',
    });
    const api = upsellDecision(
      decision,
      { to: '/pricing' },
      { accept: 'application/json', returnTo: '/reports' },
    );
    expect(api.kind === 'problem' && api.response.body.upgradeUrl).toBe('/pricing?feature=reports&plan=pro');
  });

  it('answers reasons outside `reasons` with the default problem', () => {
    const answer = upsellDecision(denied('unavailable'), { to: '/pricing' }, { accept: html, returnTo: '/' });
    expect(answer.kind === 'problem' && answer.response.status).toBe(503);
  });
});

describe('resolveAmount', () => {
  it('passes a constant through synchronously', () => {
    expect(resolveAmount(2, {}, 'sms')).toBe(2);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, '3', undefined])(
    'rejects %s from an amount function with TOLLGATE_INVALID_AMOUNT',
    async (bad) => {
      const error = await Promise.resolve()
        .then(() => resolveAmount(() => bad as number, {}, 'sms'))
        .catch((e: unknown) => e);
      expect(hasErrorCode(error, 'TOLLGATE_INVALID_AMOUNT')).toBe(true);
    },
  );

  it('awaits an async amount function', async () => {
    await expect(resolveAmount(async (req: { n: number }) => req.n, { n: 0.25 }, 'sms')).resolves.toBe(0.25);
  });
});

describe('settlement', () => {
  it.each([
    [{ kind: 'finished', status: 200 }, 'success', 'commit'],
    [{ kind: 'finished', status: 399 }, 'success', 'commit'],
    [{ kind: 'finished', status: 400 }, 'success', 'release'],
    [{ kind: 'finished', status: 503 }, 'success', 'release'],
    [{ kind: 'finished', status: 500 }, 'always', 'commit'],
    [{ kind: 'errored' }, 'success', 'release'],
    [{ kind: 'errored' }, 'always', 'commit'],
    [{ kind: 'aborted' }, 'always', 'release'],
    [{ kind: 'denied' }, 'always', 'release'],
  ] as const)('%j with chargeOn %s → %s', (outcome, chargeOn, expected) => {
    expect(settlementFor(outcome, chargeOn)).toBe(expected);
  });

  it('settles each reservation once, by the first outcome, and reports failures', async () => {
    const calls: string[] = [];
    const reservation = (name: string, fail = false): Reservation =>
      ({
        commit: async () => {
          calls.push(`${name}:commit`);
          if (fail) throw new Error('backend down');
        },
        release: async () => {
          calls.push(`${name}:release`);
        },
      }) as Reservation;
    const errors: string[] = [];
    const settlement = new RequestSettlement((_e, action) => errors.push(action));
    settlement.add(reservation('a'), 'success');
    settlement.add(reservation('b', true), 'always');
    await settlement.settle({ kind: 'finished', status: 200 });
    await settlement.settle({ kind: 'aborted' });
    settlement.add(reservation('late'), 'success');
    await Promise.resolve();
    expect(calls).toEqual(['a:commit', 'b:commit', 'late:commit']);
    expect(errors).toEqual(['commit']);
  });
});
