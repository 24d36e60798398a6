import { describe, expect, it } from 'vitest';
import { createTollgate } from '../engine/create-tollgate.js';
import { AllocationExhaustedError, ConfigurationError, HttpError, UnavailableError } from '../errors.js';
import type { Plan } from '../types.js';
import { memoryProvider } from './memory-provider.js';

const plans: Plan[] = [
  { id: 'pro', name: 'Pro', features: { reports: true, sms: 100 } },
  { id: 'month', name: 'Month', features: { sms: 10 }, durationDays: 30, trialDays: 7 },
];
const alice = { externalUserId: 'alice' };
const DAY = 86_400_000;

describe('memoryProvider', () => {
  it('lists licences by feature and plan, expired ones included', async () => {
    let now = Date.UTC(2026, 0, 1);
    const provider = memoryProvider({
      plans,
      clock: { now: () => now },
      licenses: [
        { subject: alice, planId: 'pro' },
        { subject: alice, planId: 'month' },
      ],
    });
    expect((await provider.getLicenses(alice, { featureIds: ['reports'] })).map((l) => l.planId)).toEqual([
      'pro',
    ]);
    expect((await provider.getLicenses(alice, { planIds: ['month'] }))[0]).toMatchObject({
      planId: 'month',
      expiresAt: new Date(now + 30 * DAY),
      features: [{ id: 'sms', total: 10, used: 0 }],
    });
    now += 31 * DAY;
    expect(await provider.getLicenses(alice, { featureIds: ['sms'] })).toHaveLength(2);
    expect(await provider.getAllocation(alice, 'sms')).toEqual({ total: 100, used: 0, available: 100 });
  });

  it('draws usage from the licence expiring first and refunds in reverse, like the service', async () => {
    const provider = memoryProvider({
      plans,
      licenses: [
        { subject: alice, planId: 'pro' },
        { subject: alice, planId: 'month' },
      ],
    });
    await provider.adjustAllocation(alice, 'sms', 15);
    const byPlan = async () =>
      Object.fromEntries(
        (await provider.getLicenses(alice)).map((l) => [
          l.planId,
          l.features.find((f) => f.id === 'sms')?.used,
        ]),
      );
    expect(await byPlan()).toEqual({ month: 10, pro: 5 });
    await provider.adjustAllocation(alice, 'sms', -7);
    expect(await byPlan()).toEqual({ month: 8, pro: 0 });
    expect(await provider.getAllocation(alice, 'sms', { planId: 'month' })).toEqual({
      total: 10,
      used: 8,
      available: 2,
    });
  });

  it('applies floor 0 atomically and honours idempotency keys', async () => {
    const provider = memoryProvider({ plans, licenses: [{ subject: alice, planId: 'month' }] });
    await expect(provider.adjustAllocation(alice, 'sms', 11, { floor: 0 })).rejects.toBeInstanceOf(
      AllocationExhaustedError,
    );
    expect((await provider.getAllocation(alice, 'sms')).used).toBe(0);
    await provider.adjustAllocation(alice, 'sms', 2, { idempotencyKey: 'k1' });
    await provider.adjustAllocation(alice, 'sms', 2, { idempotencyKey: 'k1' });
    expect((await provider.getAllocation(alice, 'sms')).used).toBe(2);
    await expect(provider.adjustAllocation(alice, 'sms', 3, { idempotencyKey: 'k1' })).rejects.toMatchObject({
      status: 422,
      serviceCode: 'idempotency_mismatch',
    });
    await expect(provider.adjustAllocation({ userId: 'nobody' }, 'sms', 1)).rejects.toMatchObject({
      status: 404,
      serviceCode: 'no_license',
    });
  });

  it('creates trial licences once per plan, ensures and revokes licences', async () => {
    const provider = memoryProvider({ plans });
    const trial = await provider.createLicense(alice, 'month', { trial: true });
    expect(trial).toMatchObject({ trial: true, planId: 'month' });
    await expect(provider.createLicense(alice, 'month', { trial: true })).rejects.toMatchObject({
      serviceCode: 'trial_used',
    });
    await expect(provider.createLicense(alice, 'pro', { trial: true })).rejects.toMatchObject({
      serviceCode: 'no_trial',
    });
    await expect(provider.createLicense(alice, 'gold')).rejects.toBeInstanceOf(HttpError);
    const ensured = await provider.ensureLicense(alice, 'month');
    expect(ensured.id).toBe(trial.id);
    await provider.revokeLicense(trial.id);
    expect(await provider.getLicenses(alice)).toEqual([]);
    expect((await provider.getPlans({ featureId: 'reports' })).map((p) => p.id)).toEqual(['pro']);
  });

  it('rejects a wrong fixture at once with a ConfigurationError naming the problem', () => {
    expect(() => memoryProvider({ plans, licenses: [{ subject: alice, planId: 'gold' }] })).toThrow(
      /licenses\.0\.planId: "gold" is not one of the plans/,
    );
    expect(() => memoryProvider({ plans: [{ id: 'x', name: 'X', features: { sms: -1 } }] })).toThrow(
      ConfigurationError,
    );
  });

  it('simulates an outage and counts calls', async () => {
    const provider = memoryProvider({ plans });
    provider.fail(new UnavailableError('down', 'refused'));
    await expect(provider.getLicenses(alice)).rejects.toBeInstanceOf(UnavailableError);
    provider.fail(undefined);
    await provider.getLicenses(alice);
    expect(provider.calls.getLicenses).toBe(2);
  });
});

describe('the README example', () => {
  it('stops sending SMS when the plan is used up', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const clock = { now: () => now };
    const provider = memoryProvider({
      clock,
      plans: [{ id: 'pro', name: 'Pro', durationDays: 30, features: { reports: true, sms: 100 } }],
      licenses: [{ subject: { externalUserId: 'u1' }, planId: 'pro', used: { sms: 99 } }],
    });
    const tollgate = createTollgate({ provider, clock, meter: { mode: 'sync' } });

    expect((await tollgate.authrep({ externalUserId: 'u1' }, { sms: 1 })).allowed).toBe(true);
    expect((await tollgate.authrep({ externalUserId: 'u1' }, { sms: 1 })).reason).toBe('exhausted');

    now += 31 * 86_400_000;
    tollgate.invalidate({ externalUserId: 'u1' });
    expect((await tollgate.check({ externalUserId: 'u1' }, 'reports')).reason).toBe('expired');
    await tollgate.close();
  });
});
