import {
  AllocationExhaustedError,
  HttpError,
  hasErrorCode,
  type LicensarioProvider,
  UnavailableError,
} from '@tollgate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LicensarioService,
  SERVICE_SECRET,
  startLicensarioService,
} from './helpers/licensario-service.js';
import { CONTRACT_CATALOG } from './provider-contract.js';

// licensarioProvider against the real service on an ephemeral port: every endpoint, both
// subject kinds, idempotent replays, credentials, and the concurrency guarantee of floor=0.

let service: LicensarioService;
let provider: LicensarioProvider;
let n = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++n}`;

beforeAll(async () => {
  // The budget covers the wait for a free socket: 200 calls queued on 16 sockets against the
  // embedded store on a busy 2-core machine measured ~2.3 s end to end, past the 2 s default.
  service = await startLicensarioService(CONTRACT_CATALOG, { timeoutMs: 15_000 });
  provider = service.provider;
});
afterAll(async () => {
  await service?.close();
});

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error as Error,
  );
}

describe('licensarioProvider against the real service', () => {
  it('walks every licence and allocation endpoint for a user id and an external id', async () => {
    for (const subject of [{ userId: unique('user') }, { externalUserId: unique('ext') }]) {
      expect(await provider.getLicenses(subject)).toEqual([]);
      const created = await provider.createLicense(subject, 'pro');
      const ensured = await provider.ensureLicense(subject, 'pro');
      expect(ensured).toEqual(created);
      expect(await provider.getLicenses(subject, { featureIds: ['sms'], planIds: ['pro'] })).toEqual([
        created,
      ]);
      expect(await provider.getAllocation(subject, 'sms', { planId: 'pro' })).toEqual({
        total: 100,
        used: 0,
        available: 100,
      });
      expect(await provider.adjustAllocation(subject, 'sms', 12.38)).toEqual({
        total: 100,
        used: 12.38,
        available: 87.62,
      });
      expect((await provider.setAllocation(subject, 'sms', 40, { planId: 'pro' })).available).toBe(40);
      const [listed] = await provider.getLicenses(subject);
      expect(listed?.features).toContainEqual({ id: 'sms', total: 100, used: 60 });
      await provider.revokeLicense(created.id, { reason: 'test over' });
      expect(await provider.getLicenses(subject)).toEqual([]);
    }
  });

  it('keeps ids with reserved characters in one path segment end to end', async () => {
    const odd = { externalUserId: `a/b c?&=#%${unique('x')}` };
    const prefix = { externalUserId: 'a' };
    const license = await provider.createLicense(odd, 'basic');
    expect(await provider.getLicenses(odd)).toEqual([license]);
    expect(await provider.getLicenses(prefix)).toEqual([]);
    const byUserId = await provider.getLicenses({ userId: license.userId });
    expect(byUserId.map((l) => l.id)).toEqual([license.id]);
  });

  it('ensures an external user, creates a wizard token that names it, and reads plans', async () => {
    const externalUserId = unique('wizard/user');
    await provider.ensureExternalUser(externalUserId, 'someone@example.com');
    const token = await provider.createWizardToken(externalUserId);
    expect(service.server.verifyWizardToken(token)).toBe(externalUserId);
    expect((await provider.getPlans({ featureId: 'reports' })).map((plan) => plan.id)).toEqual([
      'basic',
      'pro',
    ]);
  });

  it('logs transactions (a repeated uuid answers the same id) and nets refunds in the balance', async () => {
    const subject = { externalUserId: unique('payer') };
    const license = await provider.createLicense(subject, 'pro');
    const before = await provider.getBalance();
    const uuid = unique('tx');
    const paid = await provider.logTransaction({
      uuid,
      licenseId: license.id,
      amount: 40.5,
      externalTransactionId: 'TR-1',
      subject,
    });
    expect(await provider.logTransaction({ uuid, licenseId: license.id, amount: 40.5, subject })).toEqual(
      paid,
    );
    await provider.logTransaction({
      uuid: unique('tx'),
      licenseId: license.id,
      amount: 0.5,
      subject,
      type: 'refund',
    });
    const after = await provider.getBalance({
      from: new Date(Date.now() - 86_400_000),
      to: new Date(Date.now() + 60_000),
    });
    expect(after.balance - before.balance).toBeCloseTo(40, 9);
    expect(await provider.getBalance({ from: new Date('2000-01-01Z'), to: new Date('2000-01-02Z') })).toEqual(
      {
        balance: 0,
      },
    );
  });

  it('replays a write sent again with the same Idempotency-Key, and refuses the key for another request', async () => {
    const subject = { externalUserId: unique('idem') };
    const key = unique('key');
    const first = await provider.createLicense(subject, 'sms-pack', { idempotencyKey: key });
    const replay = await provider.createLicense(subject, 'sms-pack', { idempotencyKey: key });
    expect(replay).toEqual(first);
    expect(await provider.getLicenses(subject)).toHaveLength(1);

    const usageKey = unique('usage');
    await provider.adjustAllocation(subject, 'sms', 10, { idempotencyKey: usageKey });
    await provider.adjustAllocation(subject, 'sms', 10, { idempotencyKey: usageKey });
    expect((await provider.getAllocation(subject, 'sms')).available).toBe(40);

    const mismatch = await rejectionOf(
      provider.adjustAllocation(subject, 'sms', 11, { idempotencyKey: usageKey }),
    );
    expect(mismatch).toBeInstanceOf(HttpError);
    expect(mismatch).toMatchObject({ status: 422, serviceCode: 'idempotency_mismatch' });
    expect(mismatch.message).toContain('use a new key');
  });

  it('answers 401 for a wrong secret with a message about the credentials that does not carry any secret', async () => {
    const wrongSecret = 'wrong-secret-0e6f';
    const intruder = service.client({ apiSecret: wrongSecret });
    const error = await rejectionOf(intruder.getLicenses({ userId: '1' }));
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({
      status: 401,
      serviceCode: 'unauthorized',
      method: 'GET',
      path: '/api/v1/users/1/licenses',
    });
    expect(error.message).toContain('apiKey and apiSecret');
    expect(error.message).not.toContain(wrongSecret);
    expect(error.message).not.toContain(SERVICE_SECRET);
  });

  it('names the wire code of a refusal in HttpError', async () => {
    const error = await rejectionOf(provider.createLicense({ userId: unique('u') }, 'gold'));
    expect(error).toMatchObject({
      code: 'TOLLGATE_HTTP',
      status: 404,
      serviceCode: 'unknown_plan',
      method: 'POST',
    });
    expect(error.message).toContain("not in the service's catalog");
  });

  it('200 concurrent floor-0 uses of 1 on an allocation of 100: exactly 100 succeed, available ends at 0', async () => {
    const subject = { externalUserId: unique('burst') };
    await provider.createLicense(subject, 'pro');
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () => provider.adjustAllocation(subject, 'sms', 1, { floor: 0 })),
    );
    const fulfilled = results.filter((result) => result.status === 'fulfilled');
    const rejected = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    expect(fulfilled).toHaveLength(100);
    expect(rejected).toHaveLength(100);
    for (const reason of rejected) {
      expect(reason).toBeInstanceOf(AllocationExhaustedError);
      expect(reason).toMatchObject({ code: 'TOLLGATE_EXHAUSTED', featureId: 'sms' });
    }
    // Every success saw a distinct remaining amount: no two decrements read the same value.
    const seen = new Set(
      fulfilled.map((result) => (result.status === 'fulfilled' ? result.value.available : -1)),
    );
    expect(seen.size).toBe(100);
    expect(await provider.getAllocation(subject, 'sms')).toEqual({ total: 100, used: 100, available: 0 });
  });

  it('says "refused" once the service is gone', async () => {
    const gone = await startLicensarioService(CONTRACT_CATALOG);
    const client = gone.client();
    await gone.server.close();
    const error = await rejectionOf(client.getPlans());
    expect(error).toBeInstanceOf(UnavailableError);
    expect(hasErrorCode(error, 'TOLLGATE_UNAVAILABLE') && (error as UnavailableError).reason).toBe('refused');
    await gone.close().catch(() => {});
  });
});
