import { describe, expect, it, vi } from 'vitest';
import { ClosedError, HttpError, InvalidAmountError, UnavailableError } from '../errors.js';
import { memoryProvider } from '../testing/memory-provider.js';
import type { AdjustAllocationOptions, EntitlementProvider, Subject } from '../types.js';
import { createTollgate } from './create-tollgate.js';
import { alice, openTollgate, plans, record, setup, useEngineTestLifecycle } from './test-setup.js';

useEngineTestLifecycle();

/** A memory provider whose adjustAllocation calls can be observed and sabotaged. */
function observed() {
  const memory = memoryProvider({ plans, licenses: [{ subject: alice, planId: 'pro' }] });
  const adjustments: { usage: number; options: AdjustAllocationOptions | undefined }[] = [];
  let sabotage: ((applied: () => Promise<unknown>) => Promise<unknown>) | undefined;
  const provider: EntitlementProvider = {
    ...memory,
    adjustAllocation: (
      subject: Subject,
      featureId: string,
      usage: number,
      options?: AdjustAllocationOptions,
    ) => {
      adjustments.push({ usage, options });
      const run = () => memory.adjustAllocation(subject, featureId, usage, options);
      return (sabotage ? sabotage(run) : run()) as ReturnType<EntitlementProvider['adjustAllocation']>;
    },
  };
  return {
    memory,
    provider,
    adjustments,
    sabotage(fn: typeof sabotage) {
      sabotage = fn;
    },
  };
}

describe('amounts', () => {
  it.each([Number.NaN, Number.POSITIVE_INFINITY, 0, -1, '1', 1e-12])(
    'rejects %s with InvalidAmountError and charges nothing',
    async (amount) => {
      const { provider, tollgate: t } = setup();
      await expect(t.authrep(alice, { sms: amount as number })).rejects.toBeInstanceOf(InvalidAmountError);
      await expect(t.report(alice, { sms: amount as number })).rejects.toMatchObject({
        code: 'TOLLGATE_INVALID_AMOUNT',
      });
      await t.flush();
      expect(provider.calls.adjustAllocation).toBe(0);
      expect((await provider.getAllocation(alice, 'sms')).used).toBe(0);
    },
  );

  it('sums decimals exactly (0.1 + 0.2 is 0.3 at the service)', async () => {
    const { provider, tollgate: t } = setup();
    await t.authrep(alice, { sms: 0.1 });
    await t.authrep(alice, { sms: 0.2 });
    for (let i = 0; i < 10; i += 1) await t.authrep(alice, { sms: 0.7 });
    await t.flush();
    expect(await provider.getAllocation(alice, 'sms')).toEqual({ total: 100, used: 7.3, available: 92.7 });
  });
});

describe('batched metering', () => {
  it('authorizes against the local view and flushes per key on the interval', async () => {
    const o = observed();
    const tollgate = openTollgate({ provider: o.provider, meter: { flushIntervalMs: 1000 } });
    const first = await tollgate.authrep(alice, { sms: 3 });
    expect(first).toMatchObject({ allowed: true, remaining: 97 });
    expect((await tollgate.authrep(alice, { sms: 2 })).remaining).toBe(95);
    expect(o.adjustments).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(o.adjustments).toHaveLength(1);
    expect(o.adjustments[0]).toMatchObject({ usage: 5 });
    expect(o.adjustments[0]?.options?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(o.adjustments[0]?.options?.floor).toBeUndefined();
    expect((await o.memory.getAllocation(alice, 'sms')).used).toBe(5);
  });

  it('flushes at once when a key reaches maxBatchSize', async () => {
    const o = observed();
    const tollgate = openTollgate({
      provider: o.provider,
      meter: { flushIntervalMs: 60_000, maxBatchSize: 10 },
    });
    for (let i = 0; i < 9; i += 1) await tollgate.authrep(alice, { sms: 1 });
    expect(o.adjustments).toHaveLength(0);
    await tollgate.authrep(alice, { sms: 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(o.adjustments.map((a) => a.usage)).toEqual([10]);
  });

  it('sends each key once per interval: usage queued during its flush waits for the next tick', async () => {
    const o = observed();
    const tollgate = openTollgate({ provider: o.provider, meter: { flushIntervalMs: 1000 } });
    await tollgate.authrep(alice, { sms: 3 });
    // While the flush of 3 is at the service, the key keeps being used.
    o.sabotage(async (apply) => {
      await tollgate.authrep(alice, { sms: 2 });
      return apply();
    });
    await vi.advanceTimersByTimeAsync(1000);
    o.sabotage(undefined);
    expect(o.adjustments.map((a) => a.usage)).toEqual([3]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(o.adjustments.map((a) => a.usage)).toEqual([3, 2]);
    // An explicit flush() still sends everything, however it arrived.
    await tollgate.authrep(alice, { sms: 1 });
    await tollgate.flush();
    expect(o.adjustments.map((a) => a.usage)).toEqual([3, 2, 1]);
    expect((await o.memory.getAllocation(alice, 'sms')).used).toBe(6);
  });

  it('puts a failed batch back and resends it with the same idempotency key, counted once', async () => {
    const o = observed();
    const tollgate = openTollgate({
      provider: o.provider,
      meter: { flushIntervalMs: 1000 },
      retry: { attempts: 1 },
    });
    const failed = record(tollgate, 'flush:failed');
    await tollgate.authrep(alice, { sms: 4 });
    // The service applies the batch but the answer is lost.
    o.sabotage(async (apply) => {
      await apply();
      throw new UnavailableError('connection reset', 'reset');
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(failed).toMatchObject([{ amount: 4, willRetry: true }]);
    await tollgate.authrep(alice, { sms: 1 });
    o.sabotage(undefined);
    // Backoff: the next interval is skipped after a failure.
    await vi.advanceTimersByTimeAsync(1000);
    expect(o.adjustments).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(o.adjustments.map((a) => a.usage)).toEqual([4, 4, 1]);
    expect(o.adjustments[1]?.options?.idempotencyKey).toBe(o.adjustments[0]?.options?.idempotencyKey);
    expect(o.adjustments[2]?.options?.idempotencyKey).not.toBe(o.adjustments[0]?.options?.idempotencyKey);
    expect((await o.memory.getAllocation(alice, 'sms')).used).toBe(5);
  });

  it('stops flushing on 401/403 and raises an event; flush() tries again', async () => {
    const o = observed();
    const tollgate = openTollgate({ provider: o.provider, meter: { flushIntervalMs: 1000 } });
    const failed = record(tollgate, 'flush:failed');
    await tollgate.authrep(alice, { sms: 2 });
    o.sabotage(() => Promise.reject(new HttpError('no', { status: 401, method: 'POST', path: '/alloc' })));
    await vi.advanceTimersByTimeAsync(1000);
    expect(failed).toMatchObject([{ willRetry: false }]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(o.adjustments).toHaveLength(1);
    o.sabotage(undefined);
    await tollgate.flush();
    expect((await o.memory.getAllocation(alice, 'sms')).used).toBe(2);
    expect(tollgate.stats()).toMatchObject({ usageDropped: 0, pendingKeys: 0 });
  });

  it('writes through (meter:full) when maxPendingKeys is reached, dropping nothing', async () => {
    const subjects = [alice, { externalUserId: 'carol' }];
    const memory = memoryProvider({
      plans,
      licenses: subjects.map((subject) => ({ subject, planId: 'pro' })),
    });
    const tollgate = openTollgate({
      provider: memory,
      meter: { maxPendingKeys: 1, flushIntervalMs: 60_000 },
    });
    const full = record(tollgate, 'meter:full');
    await tollgate.authrep(alice, { sms: 1 });
    await tollgate.authrep(subjects[1]!, { sms: 2 });
    expect(full).toMatchObject([{ featureId: 'sms', pendingKeys: 1 }]);
    expect((await memory.getAllocation(subjects[1]!, 'sms')).used).toBe(2);
    expect((await memory.getAllocation(alice, 'sms')).used).toBe(0);
    await tollgate.flush();
    expect((await memory.getAllocation(alice, 'sms')).used).toBe(1);
  });

  it('1,000 concurrent authreps of 1 against 100 → exactly 100 allowed (one instance never over-consumes)', async () => {
    const { provider, tollgate: t } = setup();
    const decisions = await Promise.all(Array.from({ length: 1000 }, () => t.authrep(alice, { sms: 1 })));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(100);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.reason === 'exhausted')).toBe(true);
    await t.flush();
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 100, available: 0 });
  });

  it('N = 2 instances granting U units per flush interval: over-consumption ≤ (N − 1) × min(R, 2U)', async () => {
    const memory = memoryProvider({ plans, licenses: [{ subject: alice, planId: 'pro' }] });
    const options = { provider: memory, meter: { flushIntervalMs: 1000 }, cache: { ttlMs: 60_000 } } as const;
    const instances = [createTollgate(options), createTollgate(options)];
    const U = 10;
    let granted = 0;
    for (let round = 0; round < 20; round += 1) {
      for (const t of instances) {
        for (let i = 0; i < U; i += 1) if ((await t.authrep(alice, { sms: 1 })).allowed) granted += 1;
      }
      await vi.advanceTimersByTimeAsync(1000);
    }
    await Promise.all(instances.map((t) => t.close()));
    // Nothing lost or counted twice, the whole allocation usable, and the overshoot within the bound.
    expect((await memory.getAllocation(alice, 'sms')).used).toBe(granted);
    expect(granted).toBeGreaterThanOrEqual(100);
    expect(granted - 100).toBeLessThanOrEqual((2 - 1) * Math.min(100, 2 * U));
  });

  it('keeps the local view right across a refresh while usage is unflushed', async () => {
    const { provider, tollgate: t } = setup(
      {},
      { cache: { ttlMs: 1000 }, meter: { flushIntervalMs: 60_000 } },
    );
    for (let i = 0; i < 60; i += 1) await t.authrep(alice, { sms: 1 });
    vi.advanceTimersByTime(1000);
    // Fresh read says 100 left; 60 are still queued here, so only 40 may be granted.
    expect(await t.check(alice, 'sms')).toMatchObject({ remaining: 40, source: 'backend' });
    const more = await Promise.all(Array.from({ length: 50 }, () => t.authrep(alice, { sms: 1 })));
    expect(more.filter((d) => d.allowed)).toHaveLength(40);
    await t.flush();
    expect((await provider.getAllocation(alice, 'sms')).available).toBe(0);
  });

  it('authorizes several features all-or-nothing', async () => {
    const { provider, tollgate: t } = setup({
      licenses: [{ subject: alice, planId: 'pro', used: { mms: 9 } }],
    });
    const denied = await t.authrep(alice, { sms: 5, mms: 2 });
    expect(denied).toMatchObject({ allowed: false, reason: 'exhausted', featureId: 'mms' });
    expect(denied.decisions.map((d) => d.allowed)).toEqual([true, false]);
    const granted = await t.authrep(alice, { sms: 5, mms: 1 });
    expect(granted).toMatchObject({ allowed: true });
    await t.flush();
    expect((await provider.getAllocation(alice, 'sms')).used).toBe(5);
    expect((await provider.getAllocation(alice, 'mms')).used).toBe(10);
  });

  it('charges nothing for a boolean feature and nothing for a denied one', async () => {
    const { provider, tollgate: t } = setup();
    expect(await t.authrep(alice, { reports: 1 })).toMatchObject({ allowed: true });
    expect(await t.authrep({ userId: 'nobody' }, { sms: 1 })).toMatchObject({
      allowed: false,
      reason: 'not_licensed',
    });
    await t.flush();
    expect(provider.calls.adjustAllocation).toBe(0);
  });

  it('report() records without authorizing', async () => {
    const { provider, tollgate: t } = setup();
    await t.report(alice, { sms: 150 });
    await t.flush();
    expect(await provider.getAllocation(alice, 'sms')).toMatchObject({ used: 150, available: -50 });
  });
});

describe.each(['batched', 'sync'] as const)('reservations (%s)', (mode) => {
  it('reserve + release leaves the allocation as it was', async () => {
    const { provider, tollgate: t } = setup({}, { meter: { mode } });
    const reservation = await t.reserve(alice, { sms: 30 });
    expect(reservation.decision).toMatchObject({ allowed: true, remaining: 70 });
    await reservation.release();
    await reservation.release();
    await t.flush();
    expect((await provider.getAllocation(alice, 'sms')).available).toBe(100);
    expect(await t.check(alice, 'sms')).toMatchObject({ remaining: 100 });
  });

  it('commit twice charges once', async () => {
    const { provider, tollgate: t } = setup({}, { meter: { mode } });
    const reservation = await t.reserve(alice, { sms: 30 });
    await reservation.commit();
    await reservation.commit();
    await reservation.release();
    await t.flush();
    expect((await provider.getAllocation(alice, 'sms')).used).toBe(30);
  });

  it('reserveCached answers synchronously from a fresh cache entry (batched only)', async () => {
    const { tollgate: t } = setup({}, { meter: { mode } });
    expect(t.reserveCached(alice, { sms: 1 })).toBeUndefined();
    await t.check(alice, 'sms');
    const reservation = t.reserveCached(alice, { sms: 1 });
    if (mode === 'sync') {
      expect(reservation).toBeUndefined();
    } else {
      expect(reservation?.decision).toMatchObject({ allowed: true, remaining: 99, source: 'cache' });
      await reservation?.commit();
    }
  });
});

describe('sync metering', () => {
  it('1,000 concurrent authreps of 1 against 100 → exactly 100 allowed, available 0', async () => {
    const { provider, tollgate: t } = setup({}, { meter: { mode: 'sync' } });
    const decisions = await Promise.all(Array.from({ length: 1000 }, () => t.authrep(alice, { sms: 1 })));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(100);
    expect((await provider.getAllocation(alice, 'sms')).available).toBe(0);
    expect(provider.calls.adjustAllocation).toBe(1000);
  });

  it('uses a conditional decrement (floor 0) with an idempotency key', async () => {
    const o = observed();
    const tollgate = openTollgate({ provider: o.provider, meter: { mode: 'sync' } });
    expect(await tollgate.authrep(alice, { sms: 2 })).toMatchObject({ allowed: true, remaining: 98 });
    expect(o.adjustments[0]?.options).toMatchObject({ floor: 0 });
    expect(o.adjustments[0]?.options?.idempotencyKey).toBeTypeOf('string');
  });

  it('replays a decrement whose answer was lost and refunds it when the request was denied', async () => {
    const o = observed();
    const tollgate = openTollgate({ provider: o.provider, meter: { mode: 'sync' }, retry: { attempts: 1 } });
    o.sabotage(async (apply) => {
      await apply();
      throw new UnavailableError('reset', 'reset');
    });
    expect(await tollgate.authrep(alice, { sms: 7 })).toMatchObject({
      allowed: false,
      reason: 'unavailable',
    });
    expect((await o.memory.getAllocation(alice, 'sms')).used).toBe(7);
    o.sabotage(undefined);
    // No explicit flush: the meter's timer retries the replay (after its backoff) in sync mode too.
    await vi.advanceTimersByTimeAsync(3000);
    expect((await o.memory.getAllocation(alice, 'sms')).used).toBe(0);
    expect(tollgate.stats()).toMatchObject({ usageDropped: 0, pendingKeys: 0 });
  });
});

describe('close', () => {
  it('flushes pending usage, stops timers and rejects new work with ClosedError', async () => {
    const { provider, tollgate: t } = setup({}, { meter: { flushIntervalMs: 60_000 } });
    await t.authrep(alice, { sms: 3 });
    await t.close();
    expect((await provider.getAllocation(alice, 'sms')).used).toBe(3);
    await expect(t.check(alice, 'sms')).rejects.toBeInstanceOf(ClosedError);
    await expect(t.authrep(alice, { sms: 1 })).rejects.toMatchObject({ code: 'TOLLGATE_CLOSED' });
    expect(() => t.checkCached(alice, 'sms')).toThrow(ClosedError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reports usage it could not flush before the timeout as dropped (counted)', async () => {
    const { provider, tollgate: t } = setup({}, { retry: { attempts: 1 }, timeoutMs: 100 });
    const dropped = record(t, 'usage:dropped');
    await t.authrep(alice, { sms: 3 });
    provider.fail(new UnavailableError('down', 'refused'));
    const closing = t.close({ timeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(1500);
    await closing;
    expect(dropped).toMatchObject([{ featureId: 'sms', amount: 3 }]);
    expect(t.stats().usageDropped).toBe(1);
  });

  it('returns after timeoutMs even when the injected clock is frozen', async () => {
    const frozen = { now: () => Date.parse('2026-01-01T00:00:00Z') };
    const { provider, tollgate: t } = setup({ clock: frozen }, { clock: frozen, retry: { attempts: 1 } });
    await t.authrep(alice, { sms: 1 });
    provider.fail(new UnavailableError('down', 'refused'));
    let closed = false;
    const closing = t.close({ timeoutMs: 2000 }).then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(1900);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(400);
    await closing;
    expect(closed).toBe(true);
    expect(t.stats().usageDropped).toBe(1);
  });

  it('close({ timeoutMs: 0 }) gives up at once and reports what was pending', async () => {
    const { provider, tollgate: t } = setup();
    const dropped = record(t, 'usage:dropped');
    await t.authrep(alice, { sms: 2 });
    await t.close({ timeoutMs: 0 });
    expect(provider.calls.adjustAllocation).toBe(0);
    expect(dropped).toMatchObject([{ amount: 2 }]);
  });
});
