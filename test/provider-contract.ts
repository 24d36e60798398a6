/**
 * The behaviour every `EntitlementProvider` shares (shared/DESIGN.md §3), as one suite run
 * against each implementation: `licensarioProvider` over the real service, the server's
 * in-process `localProvider`, core's `memoryProvider`. Passing it is what lets a user swap one
 * for another. Each test uses fresh subjects, so one provider can serve the whole suite.
 */
import {
  AllocationExhaustedError,
  type EntitlementProvider,
  isTollgateError,
  type License,
  type Plan,
  type Subject,
} from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The catalog a contract provider must be set up with. */
export const CONTRACT_CATALOG: { plans: Plan[] } = {
  plans: [
    { id: 'basic', name: 'Basic', features: { reports: true } },
    { id: 'pro', name: 'Pro', durationDays: 30, trialDays: 14, features: { reports: true, sms: 100 } },
    { id: 'sms-pack', name: 'SMS pack', features: { sms: 50 } },
  ],
};

export interface ContractSubject {
  provider: EntitlementProvider;
  /** Release whatever the factory started (servers, stores). */
  close(): Promise<void>;
}

/** Builds a provider over {@link CONTRACT_CATALOG}. */
export type ContractFactory = (catalog: typeof CONTRACT_CATALOG) => Promise<ContractSubject>;

const DAY_MS = 86_400_000;
let counter = 0;

/** A subject no other test has touched, of either kind. */
function freshSubject(kind: 'userId' | 'externalUserId'): Subject {
  counter += 1;
  const id = `contract-${Date.now().toString(36)}-${counter}`;
  return kind === 'userId' ? { userId: id } : { externalUserId: id };
}

/** What every provider throws for a refusal: the wire status and code, as an `HttpError`. */
function refusal(status: number, serviceCode: string) {
  return { code: 'TOLLGATE_HTTP', status, serviceCode };
}

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error as Error,
  );
}

/**
 * Declares the contract suite for one implementation.
 *
 * @example
 * describeProviderContract('memoryProvider', async (catalog) => ({
 *   provider: memoryProvider(catalog),
 *   close: async () => {},
 * }));
 */
export function describeProviderContract(name: string, factory: ContractFactory): void {
  describe(`EntitlementProvider contract: ${name}`, () => {
    let setup: ContractSubject;
    let provider: EntitlementProvider;

    beforeAll(async () => {
      setup = await factory(CONTRACT_CATALOG);
      provider = setup.provider;
    });
    afterAll(async () => {
      await setup?.close();
    });

    describe.each(['userId', 'externalUserId'] as const)('for a subject given by %s', (kind) => {
      it('a new subject holds no licence and no allocation', async () => {
        const subject = freshSubject(kind);
        expect(await provider.getLicenses(subject)).toEqual([]);
        expect(await provider.getAllocation(subject, 'sms')).toEqual({ total: 0, used: 0, available: 0 });
      });

      it("createLicense grants the plan's features, metered ones with their allocation", async () => {
        const subject = freshSubject(kind);
        const license = await provider.createLicense(subject, 'pro');
        expect(license).toMatchObject({ planId: 'pro', trial: false });
        expect(typeof license.id).toBe('string');
        expect(license.issuedAt).toBeInstanceOf(Date);
        expect(license.expiresAt).toBeInstanceOf(Date);
        const lifetime = (license.expiresAt as Date).getTime() - license.issuedAt.getTime();
        expect(lifetime).toBeGreaterThanOrEqual(29 * DAY_MS);
        expect(lifetime).toBeLessThanOrEqual(31 * DAY_MS);
        expect([...license.features].sort((a, b) => a.id.localeCompare(b.id))).toEqual([
          { id: 'reports' },
          { id: 'sms', total: 100, used: 0 },
        ]);
        expect(await provider.getAllocation(subject, 'sms')).toEqual({ total: 100, used: 0, available: 100 });
      });

      it('a plan without durationDays gives a licence that does not expire', async () => {
        const license = await provider.createLicense(freshSubject(kind), 'basic');
        expect(license.expiresAt).toBeNull();
        expect(license.features).toEqual([{ id: 'reports' }]);
      });

      it('getLicenses filters by feature and by plan', async () => {
        const subject = freshSubject(kind);
        const basic = await provider.createLicense(subject, 'basic');
        const pack = await provider.createLicense(subject, 'sms-pack');
        const ids = (licenses: License[]) => licenses.map((license) => license.id).sort();
        expect(ids(await provider.getLicenses(subject))).toEqual([basic.id, pack.id].sort());
        expect(ids(await provider.getLicenses(subject, { featureIds: ['sms'] }))).toEqual([pack.id]);
        expect(ids(await provider.getLicenses(subject, { featureIds: ['reports', 'sms'] }))).toEqual(
          [basic.id, pack.id].sort(),
        );
        expect(ids(await provider.getLicenses(subject, { planIds: ['basic'] }))).toEqual([basic.id]);
        expect(await provider.getLicenses(subject, { planIds: ['basic'], featureIds: ['sms'] })).toEqual([]);
      });

      it('ensureLicense answers the active licence of the plan, creating it once', async () => {
        const subject = freshSubject(kind);
        const first = await provider.ensureLicense(subject, 'pro');
        const second = await provider.ensureLicense(subject, 'pro');
        expect(second.id).toBe(first.id);
        expect(await provider.getLicenses(subject)).toHaveLength(1);
      });

      it('usage lowers the allocation, a refund raises it, decimals stay exact', async () => {
        const subject = freshSubject(kind);
        await provider.createLicense(subject, 'pro');
        expect(await provider.adjustAllocation(subject, 'sms', 30)).toEqual({
          total: 100,
          used: 30,
          available: 70,
        });
        expect(await provider.adjustAllocation(subject, 'sms', 0.2)).toEqual({
          total: 100,
          used: 30.2,
          available: 69.8,
        });
        expect(await provider.adjustAllocation(subject, 'sms', -10.2)).toEqual({
          total: 100,
          used: 20,
          available: 80,
        });
        expect(await provider.getAllocation(subject, 'sms')).toEqual({ total: 100, used: 20, available: 80 });
      });

      it('with floor 0, usage beyond the allocation is refused and changes nothing', async () => {
        const subject = freshSubject(kind);
        await provider.createLicense(subject, 'sms-pack');
        await provider.adjustAllocation(subject, 'sms', 45, { floor: 0 });
        const error = await rejectionOf(provider.adjustAllocation(subject, 'sms', 5.5, { floor: 0 }));
        expect(error).toBeInstanceOf(AllocationExhaustedError);
        expect(error).toMatchObject({ code: 'TOLLGATE_EXHAUSTED', featureId: 'sms' });
        expect((await provider.getAllocation(subject, 'sms')).available).toBe(5);
        // Exactly what is left is allowed.
        expect((await provider.adjustAllocation(subject, 'sms', 5, { floor: 0 })).available).toBe(0);
      });

      it('without floor, usage may take the allocation below zero', async () => {
        const subject = freshSubject(kind);
        await provider.createLicense(subject, 'sms-pack');
        expect((await provider.adjustAllocation(subject, 'sms', 60)).available).toBe(-10);
      });

      it('setAllocation sets what is available', async () => {
        const subject = freshSubject(kind);
        await provider.createLicense(subject, 'pro');
        await provider.adjustAllocation(subject, 'sms', 10);
        expect((await provider.setAllocation(subject, 'sms', 25)).available).toBe(25);
        expect((await provider.getAllocation(subject, 'sms')).available).toBe(25);
      });

      it('allocations add up over several licences and narrow to one plan when asked', async () => {
        const subject = freshSubject(kind);
        await provider.createLicense(subject, 'pro');
        await provider.createLicense(subject, 'sms-pack');
        expect(await provider.getAllocation(subject, 'sms')).toEqual({ total: 150, used: 0, available: 150 });
        expect(await provider.getAllocation(subject, 'sms', { planId: 'sms-pack' })).toEqual({
          total: 50,
          used: 0,
          available: 50,
        });
      });

      it('a write repeated with the same idempotency key is applied once', async () => {
        const subject = freshSubject(kind);
        await provider.createLicense(subject, 'pro');
        const first = await provider.adjustAllocation(subject, 'sms', 7, { idempotencyKey: `k-${counter}` });
        const replay = await provider.adjustAllocation(subject, 'sms', 7, { idempotencyKey: `k-${counter}` });
        expect(replay).toEqual(first);
        expect((await provider.getAllocation(subject, 'sms')).available).toBe(93);
      });

      it('a revoked licence is no longer listed and no longer grants anything', async () => {
        const subject = freshSubject(kind);
        const license = await provider.createLicense(subject, 'pro');
        await provider.revokeLicense(license.id, { reason: 'refund' });
        expect(await provider.getLicenses(subject)).toEqual([]);
        expect((await provider.getAllocation(subject, 'sms')).available).toBe(0);
      });

      it('a trial lasts trialDays, and a subject gets one trial per plan', async () => {
        const subject = freshSubject(kind);
        const trial = await provider.createLicense(subject, 'pro', { trial: true });
        expect(trial.trial).toBe(true);
        const lifetime = (trial.expiresAt as Date).getTime() - trial.issuedAt.getTime();
        expect(lifetime).toBeGreaterThanOrEqual(13 * DAY_MS);
        expect(lifetime).toBeLessThanOrEqual(15 * DAY_MS);
        expect(await rejectionOf(provider.createLicense(subject, 'pro', { trial: true }))).toMatchObject(
          refusal(409, 'trial_used'),
        );
        expect(await rejectionOf(provider.createLicense(subject, 'basic', { trial: true }))).toMatchObject(
          refusal(409, 'no_trial'),
        );
      });

      it('refuses unknown plans and licences, and writes no licence allows, with the wire codes', async () => {
        const subject = freshSubject(kind);
        expect(await rejectionOf(provider.createLicense(subject, 'no-such-plan'))).toMatchObject(
          refusal(404, 'unknown_plan'),
        );
        expect(await rejectionOf(provider.adjustAllocation(subject, 'sms', 1))).toMatchObject(
          refusal(404, 'no_license'),
        );
        expect(await rejectionOf(provider.setAllocation(subject, 'sms', 1))).toMatchObject(
          refusal(404, 'no_license'),
        );
        expect(await rejectionOf(provider.revokeLicense('no-such-licence'))).toMatchObject(
          refusal(404, 'unknown_license'),
        );
      });

      it('refuses a non-finite amount with InvalidAmountError', async () => {
        const subject = freshSubject(kind);
        await provider.createLicense(subject, 'pro');
        const error = await rejectionOf(provider.adjustAllocation(subject, 'sms', Number.NaN));
        expect(isTollgateError(error) && error.code).toBe('TOLLGATE_INVALID_AMOUNT');
        expect((await provider.getAllocation(subject, 'sms')).available).toBe(100);
      });
    });

    it('ensureExternalUser is idempotent', async () => {
      const subject = freshSubject('externalUserId') as { externalUserId: string };
      await provider.ensureExternalUser(subject.externalUserId, 'a@example.com');
      await provider.ensureExternalUser(subject.externalUserId, 'b@example.com');
      expect(await provider.getLicenses(subject)).toEqual([]);
    });

    it('concurrent floor-0 usage never over-consumes', async () => {
      const subject = freshSubject('externalUserId');
      await provider.createLicense(subject, 'sms-pack');
      const results = await Promise.allSettled(
        Array.from({ length: 60 }, () => provider.adjustAllocation(subject, 'sms', 1, { floor: 0 })),
      );
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(50);
      const refused = results.filter((result) => result.status === 'rejected');
      expect(refused.every((result) => result.reason instanceof AllocationExhaustedError)).toBe(true);
      expect((await provider.getAllocation(subject, 'sms')).available).toBe(0);
    });

    it('getPlans lists the catalog, optionally only plans granting a feature', async () => {
      if (!provider.getPlans) return expect(provider.getPlans).toBeUndefined();
      const all = await provider.getPlans();
      expect(all.map((plan) => plan.id)).toEqual(['basic', 'pro', 'sms-pack']);
      expect(all[1]).toEqual(CONTRACT_CATALOG.plans[1]);
      const sms = await provider.getPlans({ featureId: 'sms' });
      expect(sms.map((plan) => plan.id)).toEqual(['pro', 'sms-pack']);
    });
  });
}
