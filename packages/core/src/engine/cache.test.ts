import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { memoryProvider } from '../testing/memory-provider.js';
import type { Subject } from '../types.js';
import { createTollgate } from './create-tollgate.js';
import { alice, bob, openTollgate, plans, setup, useEngineTestLifecycle } from './test-setup.js';

useEngineTestLifecycle();

describe('createTollgate options', () => {
  it('throws a ConfigurationError naming the option and what to pass', () => {
    const provider = memoryProvider({ plans });
    expect(() => createTollgate({ provider, cache: { ttlMs: -5 } })).toThrow(ConfigurationError);
    expect(() => createTollgate({ provider, cache: { ttlMs: -5 } })).toThrow(/cache\.ttlMs/);
    expect(() => createTollgate({ provider, failMode: 'maybe' as 'open' })).toThrow(
      /failMode must be 'closed'/,
    );
    expect(() => createTollgate({ provider, meter: { mode: 'sync', flushEvery: 1 } as never })).toThrow(
      /unknown option\(s\) flushEvery/,
    );
    expect(() => createTollgate({} as never)).toThrow(/provider is required/);
    expect(() => createTollgate({ provider, hooks: { 'cache:hot': () => {} } as never })).toThrow(
      /hooks\.cache:hot/,
    );
  });

  it('refuses a listener for an event that does not exist, naming the ones that do', async () => {
    const tollgate = createTollgate({ provider: memoryProvider({ plans }) });
    // A typo would otherwise subscribe to something that never fires.
    expect(() => tollgate.on('cache:hot' as never, () => {})).toThrow(ConfigurationError);
    expect(() => tollgate.on('constructor' as never, () => {})).toThrow(
      /not an event; use one of decision, cache:hit/,
    );
    const seen: string[] = [];
    const off = tollgate.on('decision', ({ decision }) => seen.push(decision.featureId));
    await tollgate.check({ externalUserId: 'nobody' }, 'reports');
    off();
    await tollgate.check({ externalUserId: 'nobody' }, 'reports');
    expect(seen).toEqual(['reports']);
    await tollgate.close();
  });
});

describe('decisions', () => {
  it('answers licensed, not_licensed, expired and exhausted from the licences', async () => {
    const now = Date.now();
    const setupResult = setup({
      licenses: [
        { subject: alice, planId: 'pro', used: { mms: 10 } },
        { subject: bob, planId: 'basic', expiresAt: new Date(now - 1000) },
      ],
    });
    const { tollgate } = setupResult;
    const licensed = await tollgate.check(alice, 'reports');
    expect(licensed).toMatchObject({
      allowed: true,
      reason: 'licensed',
      planId: 'pro',
      source: 'backend',
      ageMs: 0,
    });
    expect(await tollgate.check(alice, 'sms')).toMatchObject({ allowed: true, remaining: 100 });
    expect(await tollgate.check(alice, 'mms')).toMatchObject({
      allowed: false,
      reason: 'exhausted',
      remaining: 0,
    });
    expect(await tollgate.check(bob, 'reports')).toMatchObject({ allowed: false, reason: 'expired' });
    expect(await tollgate.check(bob, 'sms')).toMatchObject({ allowed: false, reason: 'not_licensed' });
    expect(await tollgate.check(alice, 'reports', 'basic')).toMatchObject({
      allowed: false,
      reason: 'not_licensed',
      planId: 'basic',
    });
    expect(await tollgate.check(undefined as never, 'reports')).toMatchObject({
      allowed: false,
      reason: 'no_subject',
    });
  });
});

describe('decision cache', () => {
  it('serves a fresh answer from the cache, synchronously too, until the positive TTL', async () => {
    const { provider, tollgate: t } = setup({}, { cache: { ttlMs: 10_000 } });
    expect(t.checkCached(alice, 'reports')).toBeUndefined();
    await t.check(alice, 'reports');
    vi.advanceTimersByTime(4000);
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: true, source: 'cache', ageMs: 4000 });
    expect(t.checkCached(alice, 'reports')).toMatchObject({ allowed: true, source: 'cache', ageMs: 4000 });
    expect(provider.calls.getLicenses).toBe(1);
    vi.advanceTimersByTime(6000);
    expect(t.checkCached(alice, 'reports')).toBeUndefined();
    expect(await t.check(alice, 'reports')).toMatchObject({ source: 'backend' });
    expect(provider.calls.getLicenses).toBe(2);
  });

  it('keeps a TTL longer than 2^31 ms (about 25 days) whole', async () => {
    const day = 86_400_000;
    const { provider, tollgate: t } = setup({}, { cache: { ttlMs: 30 * day } });
    await t.check(alice, 'reports');
    // Moved without running the engine's timers: 29 days of flush ticks would take a while.
    vi.setSystemTime(Date.now() + 29 * day);
    expect(t.checkCached(alice, 'reports')).toMatchObject({ source: 'cache', ageMs: 29 * day });
    vi.setSystemTime(Date.now() + day);
    expect(t.checkCached(alice, 'reports')).toBeUndefined();
    expect(provider.calls.getLicenses).toBe(1);
  });

  it('keeps negative answers for the shorter negative TTL', async () => {
    const { provider, tollgate: t } = setup({}, { cache: { ttlMs: 30_000, negativeTtlMs: 2000 } });
    await t.check(bob, 'reports');
    vi.advanceTimersByTime(1999);
    expect(await t.check(bob, 'reports')).toMatchObject({ reason: 'not_licensed', source: 'cache' });
    vi.advanceTimersByTime(1);
    expect(await t.check(bob, 'reports')).toMatchObject({ reason: 'not_licensed', source: 'backend' });
    expect(provider.calls.getLicenses).toBe(2);
  });

  it('never lets a cached "allowed" outlive the licence expiry', async () => {
    const expiresAt = new Date(Date.now() + 3000);
    const { tollgate: t } = setup(
      { licenses: [{ subject: alice, planId: 'pro', expiresAt }] },
      { cache: { ttlMs: 60_000 } },
    );
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: true, expiresAt });
    vi.advanceTimersByTime(2999);
    expect(t.checkCached(alice, 'reports')).toMatchObject({ allowed: true });
    vi.advanceTimersByTime(1);
    expect(t.checkCached(alice, 'reports')).toBeUndefined();
    expect(await t.check(alice, 'reports')).toMatchObject({
      allowed: false,
      reason: 'expired',
      source: 'backend',
    });
  });

  it('caps at the earliest expiry among several licences', async () => {
    const now = Date.now();
    const { provider, tollgate: t } = setup(
      {
        licenses: [
          { subject: alice, planId: 'pro', expiresAt: new Date(now + 5000) },
          { subject: alice, planId: 'pro', expiresAt: null },
        ],
      },
      { cache: { ttlMs: 60_000 } },
    );
    expect(await t.check(alice, 'sms')).toMatchObject({ remaining: 200 });
    vi.advanceTimersByTime(5000);
    expect(await t.check(alice, 'sms')).toMatchObject({ remaining: 100, source: 'backend' });
    expect(provider.calls.getLicenses).toBe(2);
  });

  it('shares one service request between 500 concurrent checks of a cold key', async () => {
    const { provider, tollgate: t } = setup();
    provider.delay(50);
    const pending = Array.from({ length: 500 }, () => t.check(alice, 'reports'));
    await vi.advanceTimersByTimeAsync(50);
    const decisions = await Promise.all(pending);
    expect(decisions.every((d) => d.allowed && d.source === 'backend')).toBe(true);
    expect(provider.calls.getLicenses).toBe(1);
  });

  it('invalidate(subject) sends the next check to the service, other subjects stay cached', async () => {
    const { provider, tollgate: t } = setup({
      licenses: [
        { subject: alice, planId: 'pro' },
        { subject: bob, planId: 'basic' },
      ],
    });
    await t.check(alice, 'reports');
    await t.check(bob, 'reports');
    t.invalidate(alice);
    expect(await t.check(alice, 'reports')).toMatchObject({ source: 'backend' });
    expect(await t.check(bob, 'reports')).toMatchObject({ source: 'cache' });
    expect(provider.calls.getLicenses).toBe(3);
  });

  it('stays correct when more subjects are invalidated than the generation map holds', async () => {
    const subjects = Array.from({ length: 5 }, (_, i) => ({ userId: `u${i}` }));
    const { provider, tollgate: t } = setup(
      { licenses: subjects.map((subject) => ({ subject, planId: 'basic' })) },
      { cache: { max: 3 } },
    );
    await t.check(subjects[0]!, 'reports');
    t.invalidate(subjects[0]!);
    for (const s of subjects.slice(1)) t.invalidate(s);
    // u0's generation was forgotten: its old entry must not come back as a hit.
    expect(await t.check(subjects[0]!, 'reports')).toMatchObject({ source: 'backend' });
    expect(provider.calls.getLicenses).toBe(2);
  });

  /** Alice on pro and Bob on basic, at most `max` answers cached. */
  const aliceProBobBasic = (max: number) =>
    setup(
      {
        licenses: [
          { subject: alice, planId: 'pro' },
          { subject: bob, planId: 'basic' },
        ],
      },
      { cache: { max } },
    );

  it('does not cache an answer loaded across an invalidation, nor share its request', async () => {
    const provider = memoryProvider({ plans, licenses: [] });
    // The first read sees the state of its time and arrives late, after the upgrade.
    let arrive: () => void = () => {};
    const late = new Promise<void>((resolve) => {
      arrive = resolve;
    });
    let reads = 0;
    const t = openTollgate({
      provider: {
        ...provider,
        getLicenses: async (...args: Parameters<typeof provider.getLicenses>) => {
          const answer = await provider.getLicenses(...args);
          if (++reads === 1) await late;
          return answer;
        },
      },
    });
    const before = t.check(alice, 'reports');
    await vi.advanceTimersByTimeAsync(0);
    await provider.createLicense(alice, 'basic');
    t.invalidate(alice);
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: true, source: 'backend' });
    arrive();
    expect(await before).toMatchObject({ allowed: false, reason: 'not_licensed' });
    expect(reads).toBe(2);
    // The old answer, arriving last, did not replace the new one.
    expect(t.checkCached(alice, 'reports')).toMatchObject({ allowed: true, source: 'cache' });
  });

  it('keeps the other features and plans of a subject when one of its answers is evicted', async () => {
    const { provider, tollgate: t } = aliceProBobBasic(4);
    await t.check(alice, 'reports');
    await t.check(alice, 'sms');
    await t.check(alice, 'sms', 'pro');
    await t.check(alice, 'mms');
    // Only the first answer was read since: the hand spares it and takes the second for bob's,
    // from the middle of alice's answers.
    t.checkCached(alice, 'reports');
    await t.check(bob, 'reports');
    expect(t.checkCached(alice, 'sms')).toBeUndefined();
    expect(t.checkCached(alice, 'reports')).toMatchObject({ source: 'cache' });
    expect(t.checkCached(alice, 'sms', 'pro')).toMatchObject({
      source: 'cache',
      planId: 'pro',
      remaining: 100,
    });
    expect(t.checkCached(alice, 'mms')).toMatchObject({ source: 'cache', remaining: 10 });
    expect(t.checkCached(bob, 'reports')).toMatchObject({ source: 'cache' });
    // And the evicted one comes back from the service into the same bound.
    await t.check(alice, 'sms');
    expect(provider.calls.getLicenses).toBe(6);
    const cached = [
      t.checkCached(alice, 'reports'),
      t.checkCached(alice, 'sms'),
      t.checkCached(alice, 'sms', 'pro'),
      t.checkCached(alice, 'mms'),
      t.checkCached(bob, 'reports'),
    ].filter((d) => d !== undefined);
    expect(cached).toHaveLength(4);
  });

  it('keeps the earlier answers of a subject when its latest one is evicted', async () => {
    const { tollgate: t } = aliceProBobBasic(2);
    await t.check(alice, 'reports');
    await t.check(alice, 'sms');
    t.checkCached(alice, 'reports');
    await t.check(bob, 'reports');
    expect(t.checkCached(alice, 'sms')).toBeUndefined();
    expect(t.checkCached(alice, 'reports')).toMatchObject({ source: 'cache' });
    expect(t.checkCached(bob, 'reports')).toMatchObject({ source: 'cache' });
  });

  const tenUsers = Array.from({ length: 10 }, (_, i) => ({ userId: `u${i}` }));
  const withMax3 = () =>
    setup({ licenses: tenUsers.map((subject) => ({ subject, planId: 'basic' })) }, { cache: { max: 3 } });

  it('holds at most cache.max answers: after a scan, the last ones checked', async () => {
    const { tollgate: t } = withMax3();
    for (const u of tenUsers) await t.check(u, 'reports');
    const cached = tenUsers.filter((u) => t.checkCached(u, 'reports') !== undefined);
    expect(cached.map((u) => u.userId)).toEqual(['u7', 'u8', 'u9']);
  });

  it('evicts an answer not in use, and never the one just fetched', async () => {
    const { provider, tollgate: t } = withMax3();
    const [u0, u1, u2, u3, u4] = tenUsers as [Subject, Subject, Subject, Subject, Subject];
    for (const u of [u0, u1, u2]) await t.check(u, 'reports');
    // u0 and u2 are in use, u1 is not: the newcomer takes u1's place.
    t.checkCached(u0, 'reports');
    t.checkCached(u2, 'reports');
    await t.check(u3, 'reports');
    expect(t.checkCached(u1, 'reports')).toBeUndefined();
    // Now u0, u2 and u3 are all in use: the newcomer still gets in, and the oldest makes room.
    t.checkCached(u3, 'reports');
    await t.check(u4, 'reports');
    expect(t.checkCached(u0, 'reports')).toBeUndefined();
    for (const u of [u2, u3, u4]) expect(t.checkCached(u, 'reports')).toMatchObject({ source: 'cache' });
    expect(provider.calls.getLicenses).toBe(5);
  });

  it('holds up to cache.max answers beyond its first thousand, and no more', async () => {
    const users = Array.from({ length: 1500 }, (_, i) => ({ userId: `u${i}` }));
    const { tollgate: t } = setup(
      { licenses: users.map((subject) => ({ subject, planId: 'basic' })) },
      { cache: { max: 1100 } },
    );
    for (const u of users) await t.check(u, 'reports');
    const cached = users.filter((u) => t.checkCached(u, 'reports') !== undefined);
    expect(cached).toHaveLength(1100);
    expect(cached[0]).toEqual({ userId: 'u400' });
    expect(cached.at(-1)).toEqual({ userId: 'u1499' });
  });

  it('keys a subject by its userId, else its externalUserId, and never mixes the two kinds', async () => {
    const { provider, tollgate: t } = setup({
      licenses: [
        { subject: { userId: 'sam' }, planId: 'pro' },
        { subject: { externalUserId: 'sam' }, planId: 'basic' },
      ],
    });
    await t.check({ userId: 'sam' }, 'sms');
    await t.check({ externalUserId: 'sam' }, 'sms');
    expect(provider.calls.getLicenses).toBe(2);
    expect(t.checkCached({ userId: 'sam' }, 'sms')).toMatchObject({ allowed: true, remaining: 100 });
    expect(t.checkCached({ externalUserId: 'sam' }, 'sms')).toMatchObject({ reason: 'not_licensed' });
    // A userId wins over an externalUserId; an empty one does not count.
    const both = { userId: 'sam', externalUserId: 'other' } as unknown as Subject;
    expect(t.checkCached(both, 'sms')).toMatchObject({ allowed: true, remaining: 100 });
    const emptyUserId = { userId: '', externalUserId: 'sam' } as unknown as Subject;
    expect(t.checkCached(emptyUserId, 'sms')).toMatchObject({ reason: 'not_licensed' });
    expect(t.checkCached({} as Subject, 'sms')).toMatchObject({ allowed: false, reason: 'no_subject' });
    t.invalidate({ externalUserId: 'sam' });
    expect(t.checkCached({ externalUserId: 'sam' }, 'sms')).toBeUndefined();
    expect(t.checkCached({ userId: 'sam' }, 'sms')).toBeDefined();
  });

  it('reports hits, misses and decisions through the hooks', async () => {
    const seen: string[] = [];
    const { tollgate: t } = setup(
      {},
      { hooks: { 'cache:miss': () => seen.push('miss'), 'cache:hit': () => seen.push('hit') } },
    );
    t.on('decision', ({ decision }) => seen.push(`decision:${decision.source}`));
    await t.check(alice, 'reports');
    await t.check(alice, 'reports');
    expect(seen).toEqual(['miss', 'decision:backend', 'hit', 'decision:cache']);
    // The adapters' path (checkCached, then check on a miss) counts one miss per request.
    seen.length = 0;
    t.invalidate(alice);
    expect(t.checkCached(alice, 'reports')).toBeUndefined();
    await t.check(alice, 'reports');
    expect(t.checkCached(alice, 'reports')).toBeDefined();
    expect(seen).toEqual(['miss', 'decision:backend', 'hit', 'decision:cache']);
  });
});
