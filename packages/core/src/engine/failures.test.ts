import { describe, expect, it, vi } from 'vitest';
import { HttpError, UnavailableError } from '../errors.js';
import { memoryProvider } from '../testing/memory-provider.js';
import type { EntitlementProvider } from '../types.js';
import { alice, openTollgate, plans, record, setup, useEngineTestLifecycle } from './test-setup.js';

useEngineTestLifecycle();

const down = () => new UnavailableError('connection refused', 'refused');

describe('failure policy', () => {
  it('serves the last answer while younger than staleTtl, then fails closed', async () => {
    const { provider, tollgate: t } = setup(
      {},
      {
        cache: { ttlMs: 1000, staleTtlMs: 10_000 },
        retry: { attempts: 1 },
        circuit: { failureThreshold: 100 },
      },
    );
    const stale = record(t, 'cache:stale');
    const fallbacks = record(t, 'fallback');
    await t.check(alice, 'reports');
    provider.fail(down());
    vi.advanceTimersByTime(5000);
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: true, source: 'stale', ageMs: 5000 });
    expect(stale).toHaveLength(1);
    vi.advanceTimersByTime(5000);
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: true, source: 'stale', ageMs: 10_000 });
    vi.advanceTimersByTime(1);
    expect(await t.check(alice, 'reports')).toMatchObject({
      allowed: false,
      reason: 'unavailable',
      source: 'fallback',
    });
    expect(fallbacks).toEqual([{ subject: alice, featureId: 'reports', failMode: 'closed' }]);
    provider.fail(undefined);
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: true, source: 'backend' });
  });

  it('does not serve a stale "allowed" past the licence expiry', async () => {
    const { provider, tollgate: t } = setup(
      { licenses: [{ subject: alice, planId: 'pro', expiresAt: new Date(Date.now() + 2000) }] },
      { cache: { ttlMs: 1000, staleTtlMs: 60_000 }, retry: { attempts: 1 } },
    );
    await t.check(alice, 'reports');
    provider.fail(down());
    vi.advanceTimersByTime(1500);
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: true, source: 'stale' });
    vi.advanceTimersByTime(500);
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: false, source: 'fallback' });
  });

  it("failMode 'open' allows with source 'fallback' and says so in the hooks", async () => {
    const { provider, tollgate: t } = setup({}, { failMode: 'open', retry: { attempts: 1 } });
    const fallbacks = record(t, 'fallback');
    const errors = record(t, 'backend:error');
    provider.fail(down());
    expect(await t.check(alice, 'reports')).toMatchObject({
      allowed: true,
      reason: 'licensed',
      source: 'fallback',
    });
    expect(fallbacks).toEqual([{ subject: alice, featureId: 'reports', failMode: 'open' }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ operation: 'getLicenses' });
  });

  it('times out a call that does not answer within timeoutMs', async () => {
    const { provider, tollgate: t } = setup({}, { timeoutMs: 300, retry: { attempts: 1 } });
    const errors = record(t, 'backend:error');
    provider.delay(10_000);
    const pending = t.check(alice, 'reports');
    await vi.advanceTimersByTimeAsync(300);
    expect(await pending).toMatchObject({ allowed: false, reason: 'unavailable', source: 'fallback' });
    expect(errors[0]?.error).toMatchObject({ reason: 'timeout' });
  });

  it('retries an idempotent read with backoff inside the budget', async () => {
    const memory = memoryProvider({ plans, licenses: [{ subject: alice, planId: 'pro' }] });
    let failures = 2;
    const flaky: EntitlementProvider = {
      ...memory,
      getLicenses: (...args) => {
        if (failures-- > 0) {
          return Promise.reject(new HttpError('boom', { status: 503, method: 'GET', path: '/licenses' }));
        }
        return memory.getLicenses(...args);
      },
    };
    const tollgate = openTollgate({
      provider: flaky,
      retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 100 },
    });
    const pending = tollgate.check(alice, 'reports');
    await vi.advanceTimersByTimeAsync(250);
    expect(await pending).toMatchObject({ allowed: true, source: 'backend' });
    expect(failures).toBe(-1);
  });

  it('does not retry a definite answer (4xx)', async () => {
    let calls = 0;
    const memory = memoryProvider({ plans });
    const provider: EntitlementProvider = {
      ...memory,
      getLicenses: () => {
        calls += 1;
        return Promise.reject(new HttpError('bad', { status: 400, method: 'GET', path: '/licenses' }));
      },
    };
    const tollgate = openTollgate({ provider, retry: { attempts: 3, baseDelayMs: 1 } });
    const pending = tollgate.check(alice, 'reports');
    await vi.advanceTimersByTimeAsync(100);
    expect(await pending).toMatchObject({ source: 'fallback' });
    expect(calls).toBe(1);
  });

  it('opens the circuit after repeated failures, sends one probe per resetMs, closes on success', async () => {
    const { provider, tollgate: t } = setup(
      {},
      {
        retry: { attempts: 1 },
        circuit: { failureThreshold: 3, resetMs: 1000 },
        cache: { negativeTtlMs: 1 },
      },
    );
    const opened = record(t, 'circuit:open');
    const closed = record(t, 'circuit:closed');
    provider.fail(down());
    for (let i = 0; i < 3; i += 1) await t.check(alice, 'reports');
    expect(opened).toEqual([{ failures: 3 }]);
    expect(t.stats().circuitOpen).toBe(true);
    const before = provider.calls.getLicenses;
    for (let i = 0; i < 50; i += 1) {
      expect(await t.check(alice, 'reports')).toMatchObject({ reason: 'unavailable' });
    }
    expect(provider.calls.getLicenses).toBe(before);
    vi.advanceTimersByTime(1000);
    await t.check(alice, 'reports'); // the probe, still failing
    await t.check(alice, 'reports'); // fast fail again
    expect(provider.calls.getLicenses).toBe(before + 1);
    provider.fail(undefined);
    vi.advanceTimersByTime(1000);
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: true, source: 'backend' });
    expect(closed).toHaveLength(1);
    expect(t.stats().circuitOpen).toBe(false);
  });

  it('a listener that throws does not break the check', async () => {
    const { tollgate: t } = setup();
    t.on('decision', () => {
      throw new Error('listener bug');
    });
    expect(await t.check(alice, 'reports')).toMatchObject({ allowed: true });
  });
});
