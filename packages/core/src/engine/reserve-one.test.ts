import { describe, expect, it, vi } from 'vitest';
import type { Subject } from '../types.js';
import { FeatureReservation, settleReservation } from './reservation.js';
import { type ReserveOne, reserveOneCached } from './reserve-one.js';
import { alice, bob, record, setup, useEngineTestLifecycle } from './test-setup.js';
import type { Tollgate } from './types.js';

useEngineTestLifecycle();

const fixture = { licenses: [{ subject: alice, planId: 'pro' }] };
const one = (tollgate: Tollgate) => tollgate as Tollgate & ReserveOne;

/** An engine with alice's sms answer cached, and `take(amount)`: her one-feature reservation of sms. */
async function cachedSms(options: Parameters<typeof setup>[1] = {}) {
  const { provider, tollgate } = setup(fixture, options);
  await tollgate.check(alice, 'sms');
  const take = (amount: number) => one(tollgate)[reserveOneCached](alice, 'sms', amount, undefined)!;
  return { provider, tollgate, take };
}

/** Two engines over twin providers: one reserves through the one-feature path, one through reserveCached. */
async function twins(subject: Subject, featureId: string) {
  const a = setup(fixture);
  const b = setup(fixture);
  await a.tollgate.check(subject, featureId);
  await b.tollgate.check(subject, featureId);
  return { a, b };
}

describe('the one-feature reserve of the metered gates', () => {
  it.each([
    ['a metered feature with room', alice, 'sms', 3],
    ['a metered feature without room', alice, 'sms', 101],
    ['a boolean feature', alice, 'reports', 1],
    ['a feature the subject has no licence for', bob, 'sms', 1],
    ['a decimal amount', alice, 'mms', 0.25],
  ] as const)('decides and charges like reserveCached: %s', async (_name, subject, featureId, amount) => {
    const { a, b } = await twins(subject, featureId);
    const fast = one(a.tollgate)[reserveOneCached](subject, featureId, amount, undefined);
    const general = b.tollgate.reserveCached(subject, { [featureId]: amount });
    expect(fast?.decision).toEqual(general?.decision);
    await fast?.commit();
    await general?.commit();
    await a.tollgate.flush();
    await b.tollgate.flush();
    if (subject === alice) {
      expect(await a.provider.getAllocation(alice, 'sms')).toEqual(
        await b.provider.getAllocation(alice, 'sms'),
      );
      expect(await a.provider.getAllocation(alice, 'mms')).toEqual(
        await b.provider.getAllocation(alice, 'mms'),
      );
    }
    expect(a.tollgate.checkCached(subject, featureId)).toEqual(b.tollgate.checkCached(subject, featureId));
  });

  it('carries the feature decision, and the usage decision the same reserveCached gives', async () => {
    const { a, b } = await twins(alice, 'sms');
    const fast = one(a.tollgate)[reserveOneCached](alice, 'sms', 2, undefined) as FeatureReservation<unknown>;
    const general = b.tollgate.reserveCached(alice, { sms: 2 });
    expect(fast).toBeInstanceOf(FeatureReservation);
    expect(fast.feature).toEqual(general?.decision.decisions[0]);
    expect(fast.decision).toEqual(general?.decision);
    expect(fast.decision).toBe(fast.decision);
    expect(fast.decision.decisions[0]).toBe(fast.feature);
    expect(fast.decision.usage).toEqual({ sms: 2 });
  });

  it('gives the units back to the local view on release', async () => {
    const { a } = await twins(alice, 'sms');
    const reservation = one(a.tollgate)[reserveOneCached](alice, 'sms', 40, undefined);
    expect(reservation?.decision.remaining).toBe(60);
    await reservation?.release();
    expect(a.tollgate.checkCached(alice, 'sms')?.remaining).toBe(100);
  });

  it('writes a charge through when the meter is full, and queues it otherwise', async () => {
    const { provider, tollgate } = setup(
      {
        licenses: [
          { subject: alice, planId: 'pro' },
          { subject: bob, planId: 'pro' },
        ],
      },
      { meter: { maxPendingKeys: 1 } },
    );
    await tollgate.check(alice, 'sms');
    await tollgate.check(bob, 'sms');
    const full = record(tollgate, 'meter:full');
    await one(tollgate)[reserveOneCached](alice, 'sms', 2, undefined)?.commit();
    await one(tollgate)[reserveOneCached](bob, 'sms', 3, undefined)?.commit();
    expect(full.map((event) => event.subject)).toEqual([bob]);
    expect(await provider.getAllocation(bob, 'sms')).toMatchObject({ used: 3 });
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 0 });
    await tollgate.flush();
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 2 });
  });

  it('queues a commit nobody waits on by the end of the turn; flush() and close() include it', async () => {
    const { provider, tollgate, take } = await cachedSms();
    await settleReservation(take(1), 'commit');
    // The meter's own timer flushes what the end of the turn queued.
    await vi.advanceTimersByTimeAsync(1000);
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 1 });
    await settleReservation(take(1), 'commit');
    await tollgate.flush();
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 2 });
    await settleReservation(take(3), 'commit');
    // Meanwhile the units are not free: the local view counts them.
    expect(tollgate.checkCached(alice, 'sms')?.remaining).toBe(95);
    await tollgate.close();
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 5 });
  });

  it('keeps whole and decimal charges on one key exact, whichever comes first', async () => {
    const { provider, tollgate, take } = await cachedSms();
    // Whole charges from a whole balance, then a decimal one, then whole ones from a decimal view.
    for (const amount of [1, 1, 1]) await take(amount).commit();
    await take(0.5).commit();
    expect(tollgate.checkCached(alice, 'sms')?.remaining).toBe(96.5);
    const held = take(2);
    expect(held.decision.remaining).toBe(94.5);
    await held.release();
    const whole = take(1);
    expect(whole.decision.remaining).toBe(95.5);
    await whole.commit();
    await take(0.5).commit();
    // Whole again: the release of a whole charge from a whole view.
    const back = take(3);
    expect(back.decision.remaining).toBe(92);
    await back.release();
    expect(tollgate.checkCached(alice, 'sms')?.remaining).toBe(95);
    await tollgate.flush();
    expect(await provider.getAllocation(alice, 'sms')).toEqual({ total: 100, used: 5, available: 95 });
  });

  it('grants the last unit of a balance and denies the next', async () => {
    const { take } = await cachedSms();
    expect(take(99).decision).toMatchObject({ allowed: true, remaining: 1 });
    expect(take(1).decision).toMatchObject({ allowed: true, remaining: 0 });
    expect(take(1).decision).toMatchObject({ allowed: false, reason: 'exhausted', remaining: 0 });
  });

  it('counts held and queued charges against a fresh answer from the service', async () => {
    const { tollgate, take } = await cachedSms();
    await take(30).commit();
    take(5);
    // The service still says 100: 30 are queued here and 5 are held by an open reservation.
    tollgate.invalidate(alice);
    expect((await tollgate.check(alice, 'sms')).remaining).toBe(65);
  });

  it('keeps counting charges of a key after its queue and ledger line were emptied', async () => {
    const { provider, tollgate, take } = await cachedSms();
    await take(30).commit();
    // Sent, then found empty by the next flush: nothing of the key is left in the engine.
    await tollgate.flush();
    await tollgate.flush();
    take(5);
    await take(2).commit();
    tollgate.invalidate(alice);
    // The service says 70: 5 are held by an open reservation and 2 are queued.
    expect((await tollgate.check(alice, 'sms')).remaining).toBe(63);
    await tollgate.flush();
    expect((await provider.getAllocation(alice, 'sms')).used).toBe(32);
  });

  it('charges a balance beyond Number.MAX_SAFE_INTEGER units exactly', async () => {
    const huge = 2 ** 53 + 8;
    const { provider, tollgate } = setup({
      plans: [{ id: 'bulk', name: 'Bulk', features: { tokens: huge } }],
      licenses: [{ subject: alice, planId: 'bulk' }],
    });
    await tollgate.check(alice, 'tokens');
    for (let i = 0; i < 3; i += 1) {
      const reservation = one(tollgate)[reserveOneCached](alice, 'tokens', 1, undefined);
      expect(reservation?.decision.allowed).toBe(true);
      await reservation?.commit();
    }
    await tollgate.flush();
    expect((await provider.getAllocation(alice, 'tokens')).used).toBe(3);
  });

  it.each([
    [3, [2, 3]],
    [2.5, [2, 3]],
  ])('flushes a key once whole charges reach maxBatchSize %s', async (maxBatchSize, [before, at]) => {
    const { provider, take } = await cachedSms({ meter: { flushIntervalMs: 60_000, maxBatchSize } });
    const charge = () => take(1).commit();
    for (let i = 0; i < before!; i += 1) await charge();
    await vi.advanceTimersByTimeAsync(0);
    expect((await provider.getAllocation(alice, 'sms')).used).toBe(0);
    for (let i = before!; i < at!; i += 1) await charge();
    await vi.advanceTimersByTimeAsync(0);
    expect((await provider.getAllocation(alice, 'sms')).used).toBe(at);
  });

  it('answers undefined (call reserve) on a cache miss, and in sync mode', async () => {
    const { tollgate } = setup(fixture);
    expect(one(tollgate)[reserveOneCached](alice, 'sms', 1, undefined)).toBeUndefined();
    const sync = setup(fixture, { meter: { mode: 'sync' } });
    await sync.tollgate.check(alice, 'sms');
    expect(one(sync.tollgate)[reserveOneCached](alice, 'sms', 1, undefined)).toBeUndefined();
  });

  it.each([[0], [-1], [Number.NaN], [Number.POSITIVE_INFINITY], [1e-10]])(
    'rejects the amount %s with the same error as reserveCached',
    async (amount) => {
      const { a, b } = await twins(alice, 'sms');
      const fast = () => one(a.tollgate)[reserveOneCached](alice, 'sms', amount, undefined);
      const general = () => b.tollgate.reserveCached(alice, { sms: amount });
      expect(fast).toThrowError(expect.objectContaining({ code: 'TOLLGATE_INVALID_AMOUNT' }));
      expect(fast).toThrow(getMessage(general));
    },
  );
});

function getMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}
