import {
  AllocationExhaustedError,
  type EntitlementProvider,
  HttpError,
  InvalidAmountError,
  UnavailableError,
} from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from './catalog.js';
import { localProvider } from './local-provider.js';
import { Store } from './store/store.js';
import { CATALOG, ManualClock } from './test-support.js';

const clock = new ManualClock();
let store: Store;
let provider: EntitlementProvider;
let n = 0;
const subject = () => ({ externalUserId: `local-${++n}` });

beforeAll(async () => {
  store = await Store.open({ catalog: loadCatalog(CATALOG), clock });
  provider = localProvider(store);
});
afterAll(() => store?.close());

describe('localProvider', () => {
  it('creates, ensures and lists licences in core shape', async () => {
    const s = subject();
    const created = await provider.createLicense(s, 'pro');
    expect(created).toEqual({
      id: expect.stringMatching(/^\d+$/),
      userId: expect.stringMatching(/^u\d+$/),
      planId: 'pro',
      issuedAt: new Date(clock.ms),
      expiresAt: new Date(clock.ms + 30 * 86_400_000),
      trial: false,
      features: [{ id: 'reports' }, { id: 'export' }, { id: 'sms', total: 1000, used: 0 }],
    });
    expect((await provider.ensureLicense(s, 'pro')).id).toBe(created.id);
    expect(await provider.getLicenses(s, { featureIds: ['export'] })).toEqual([created]);
    expect(await provider.getLicenses(s, { planIds: ['free'] })).toEqual([]);
    const trial = await provider.createLicense(subject(), 'pro', { trial: true });
    expect(trial.trial).toBe(true);
  });

  it('records usage, and refuses floor overdrafts with AllocationExhaustedError', async () => {
    const s = subject();
    await provider.createLicense(s, 'free');
    expect(await provider.adjustAllocation(s, 'sms', 4, { floor: 0 })).toEqual({
      total: 10,
      used: 4,
      available: 6,
    });
    const refused = provider.adjustAllocation(s, 'sms', 7, { floor: 0 });
    await expect(refused).rejects.toBeInstanceOf(AllocationExhaustedError);
    await expect(refused).rejects.toMatchObject({ featureId: 'sms', available: 6 });
    expect(await provider.setAllocation(s, 'sms', 2)).toEqual({ total: 10, used: 8, available: 2 });
    expect(await provider.getAllocation(s, 'sms')).toEqual({ total: 10, used: 8, available: 2 });
  });

  it('applies a write with an idempotency key once', async () => {
    const s = subject();
    await provider.createLicense(s, 'free');
    await provider.adjustAllocation(s, 'sms', 1, { idempotencyKey: `once-${s.externalUserId}` });
    const again = await provider.adjustAllocation(s, 'sms', 1, {
      idempotencyKey: `once-${s.externalUserId}`,
    });
    expect(again.available).toBe(9);
    expect((await provider.getAllocation(s, 'sms')).available).toBe(9);
    await expect(
      provider.adjustAllocation(s, 'sms', 2, { idempotencyKey: `once-${s.externalUserId}` }),
    ).rejects.toMatchObject({ status: 422, serviceCode: 'idempotency_mismatch' });
  });

  it('adjustAllocations applies each adjustment as adjustAllocation would, with per-item outcomes', async () => {
    const [a, b, nobody] = [subject(), subject(), subject()];
    await provider.createLicense(a, 'free'); // sms 10
    await provider.createLicense(b, 'pro'); // sms 1000
    const key = (name: string) => `batch-${name}-${a.externalUserId}`;
    const adjustments = [
      { subject: a, featureId: 'sms', usage: 3, idempotencyKey: key('a') },
      { subject: b, featureId: 'sms', usage: 20, planId: 'pro', idempotencyKey: key('b') },
      { subject: nobody, featureId: 'sms', usage: 1, idempotencyKey: key('nobody') },
      { subject: a, featureId: 'sms', usage: Number.NaN, idempotencyKey: key('nan') },
      { subject: b, featureId: 'sms', usage: 1, planId: 'gold', idempotencyKey: key('gold') },
    ];
    const outcomes = await provider.adjustAllocations!(adjustments);
    expect(outcomes.slice(0, 2)).toEqual([
      { ok: true, allocation: { total: 10, used: 3, available: 7 } },
      { ok: true, allocation: { total: 1000, used: 20, available: 980 } },
    ]);
    const errors = outcomes.slice(2).map((o) => (o.ok ? undefined : o.error));
    expect(errors[0]).toBeInstanceOf(HttpError);
    expect(errors[0]).toMatchObject({ status: 404, serviceCode: 'no_license', method: 'POST' });
    expect(errors[1]).toBeInstanceOf(InvalidAmountError);
    expect(errors[2]).toMatchObject({ status: 404, serviceCode: 'no_license' });

    // The same keys again: replayed, not applied again; alone or in a batch alike.
    const again = await provider.adjustAllocations!(adjustments.slice(0, 2));
    expect(again).toEqual(outcomes.slice(0, 2));
    expect(await provider.adjustAllocation(a, 'sms', 3, { idempotencyKey: key('a') })).toEqual({
      total: 10,
      used: 3,
      available: 7,
    });
    await expect(provider.adjustAllocation(a, 'sms', 4, { idempotencyKey: key('a') })).rejects.toMatchObject({
      status: 422,
      serviceCode: 'idempotency_mismatch',
    });
    const alone = await provider.adjustAllocation(a, 'sms', 1, { idempotencyKey: key('alone') });
    expect(alone.available).toBe(6);
    const mixed = await provider.adjustAllocations!([
      { subject: a, featureId: 'sms', usage: 1, idempotencyKey: key('alone') },
      { subject: a, featureId: 'sms', usage: 2, idempotencyKey: key('b') },
    ]);
    expect(mixed[0]).toEqual({ ok: true, allocation: alone });
    expect(mixed[1]).toMatchObject({
      ok: false,
      error: { status: 422, serviceCode: 'idempotency_mismatch' },
    });
    expect((await provider.getAllocation(a, 'sms')).available).toBe(6);
    expect((await provider.getAllocation(b, 'sms')).available).toBe(980);
  });

  it('adjustAllocations records usage past the allocation (no floor), and fails as a whole when aborted', async () => {
    const s = subject();
    await provider.createLicense(s, 'free');
    const outcomes = await provider.adjustAllocations!([
      { subject: s, featureId: 'sms', usage: 12, idempotencyKey: `over-${s.externalUserId}` },
    ]);
    // adjustAllocation without floor records usage past the allocation, as Licensario does.
    expect(outcomes).toEqual([{ ok: true, allocation: { total: 10, used: 12, available: -2 } }]);
    await expect(
      provider.adjustAllocations!(
        [{ subject: s, featureId: 'sms', usage: 1, idempotencyKey: `aborted-${s.externalUserId}` }],
        { signal: AbortSignal.abort() },
      ),
    ).rejects.toBeInstanceOf(UnavailableError);
    expect((await provider.getAllocation(s, 'sms')).available).toBe(-2);
    expect(await provider.adjustAllocations!([])).toEqual([]);
  });

  it('throws HttpError with the wire status and code for refusals', async () => {
    const s = subject();
    const unknownPlan = provider.createLicense(s, 'gold');
    await expect(unknownPlan).rejects.toBeInstanceOf(HttpError);
    await expect(unknownPlan).rejects.toMatchObject({
      status: 404,
      serviceCode: 'unknown_plan',
      method: 'POST',
    });
    await expect(provider.adjustAllocation(s, 'sms', 1)).rejects.toMatchObject({
      status: 404,
      serviceCode: 'no_license',
    });
    await expect(provider.revokeLicense('999999')).rejects.toMatchObject({
      status: 404,
      serviceCode: 'unknown_license',
    });
    await provider.createLicense(s, 'pro', { trial: true });
    await expect(provider.createLicense(s, 'pro', { trial: true })).rejects.toMatchObject({
      status: 409,
      serviceCode: 'trial_used',
    });
  });

  it('refuses non-finite amounts and aborted calls', async () => {
    const s = subject();
    await expect(provider.adjustAllocation(s, 'sms', Number.NaN)).rejects.toBeInstanceOf(InvalidAmountError);
    const aborted = AbortSignal.abort();
    await expect(provider.getLicenses(s, {}, { signal: aborted })).rejects.toBeInstanceOf(UnavailableError);
  });

  it('revokes licences, ensures external users and reads the catalog', async () => {
    const s = subject();
    const license = await provider.createLicense(s, 'free');
    await provider.revokeLicense(license.id, { reason: 'refund' });
    expect(await provider.getLicenses(s)).toEqual([]);
    await provider.ensureExternalUser('someone', 'some@user.net');
    expect(await store.findUserId({ externalUserId: 'someone' })).toMatch(/^u\d+$/);
    expect((await provider.getPlans?.({ featureId: 'export' }))?.map((p) => p.id)).toEqual(['pro', 'team']);
  });
});
