import { createTollgate, type Subject, type Tollgate, type TollgateOptions } from '@tollgate/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LicensarioService, startLicensarioService } from './helpers/licensario-service.js';

// The engine over licensarioProvider over the real service on an ephemeral port. Requests are
// counted at the service (server.stats), not in the client.

const catalog = {
  plans: [{ id: 'pro', name: 'Pro', features: { reports: true, sms: 100 } }],
};
const LICENSES = 'GET /api/v1/users/external/:id/licenses';

let service: LicensarioService;
const open: Tollgate[] = [];
let n = 0;
const newSubject = (): Subject => ({ externalUserId: `engine-${Date.now().toString(36)}-${++n}` });

function tollgate(options: Omit<TollgateOptions, 'provider'>) {
  // Generous budgets: 1,000 concurrent conditional writes queue behind one embedded database,
  // and a timeout would turn a definite answer into 'unavailable' on a loaded machine.
  const t = createTollgate({ provider: service.provider, timeoutMs: 60_000, ...options });
  open.push(t);
  return t;
}

beforeAll(async () => {
  service = await startLicensarioService(catalog, { timeoutMs: 60_000, connections: 32 });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});
afterAll(async () => {
  await service?.close();
});

describe('createTollgate against the real service', () => {
  it('500 concurrent checks of one cold key → exactly 1 licence request reaches the service', async () => {
    const subject = newSubject();
    await service.provider.createLicense(subject, 'pro');
    const t = tollgate({});
    service.server.stats.reset();
    const decisions = await Promise.all(Array.from({ length: 500 }, () => t.check(subject, 'reports')));
    expect(decisions.every((d) => d.allowed && d.reason === 'licensed')).toBe(true);
    expect(service.server.stats.count(LICENSES)).toBe(1);
    expect(service.server.stats.total).toBe(1);
  });

  it('sync: 1,000 concurrent authreps of 1 against 100 → exactly 100 allowed, available 0', async () => {
    const subject = newSubject();
    await service.provider.createLicense(subject, 'pro');
    const t = tollgate({ meter: { mode: 'sync' } });
    const decisions = await Promise.all(Array.from({ length: 1000 }, () => t.authrep(subject, { sms: 1 })));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(100);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.reason === 'exhausted')).toBe(true);
    expect(await service.provider.getAllocation(subject, 'sms')).toEqual({
      total: 100,
      used: 100,
      available: 0,
    });
  }, 120_000);

  it('batched, one instance: 1,000 concurrent authreps of 1 against 100 → exactly 100 allowed (bound 0)', async () => {
    const subject = newSubject();
    await service.provider.createLicense(subject, 'pro');
    const t = tollgate({ meter: { mode: 'batched' } });
    const decisions = await Promise.all(Array.from({ length: 1000 }, () => t.authrep(subject, { sms: 1 })));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(100);
    await t.flush();
    expect(await service.provider.getAllocation(subject, 'sms')).toEqual({
      total: 100,
      used: 100,
      available: 0,
    });
  }, 60_000);

  it('batched, two instances: over-consumption stays within (N − 1) × the remaining each saw, nothing lost', async () => {
    const subject = newSubject();
    await service.provider.createLicense(subject, 'pro');
    const a = tollgate({ meter: { mode: 'batched' } });
    const b = tollgate({ meter: { mode: 'batched' } });
    const sawA = (await a.check(subject, 'sms')).remaining ?? 0;
    const sawB = (await b.check(subject, 'sms')).remaining ?? 0;
    const run = (t: Tollgate) =>
      Promise.all(Array.from({ length: 500 }, () => t.authrep(subject, { sms: 1 })));
    const [fromA, fromB] = await Promise.all([run(a), run(b)]);
    const granted = [...fromA, ...fromB].filter((d) => d.allowed).length;
    // Each instance grants at most what it saw; the overshoot is what the other one granted unseen.
    expect(granted).toBeLessThanOrEqual(100 + Math.min(sawA, sawB));
    expect(fromA.filter((d) => d.allowed).length).toBeLessThanOrEqual(sawA);
    expect(fromB.filter((d) => d.allowed).length).toBeLessThanOrEqual(sawB);
    await Promise.all([a.flush(), b.flush()]);
    expect((await service.provider.getAllocation(subject, 'sms')).used).toBe(granted);
    // Once each has synced with the service, neither grants more.
    expect((await a.authrep(subject, { sms: 1 })).allowed).toBe(false);
    expect((await b.authrep(subject, { sms: 1 })).allowed).toBe(false);
  }, 60_000);

  for (const mode of ['batched', 'sync'] as const) {
    it(`${mode}: reserve + release leaves the allocation as it was; commit twice charges once`, async () => {
      const subject = newSubject();
      await service.provider.createLicense(subject, 'pro');
      const t = tollgate({ meter: { mode } });
      const released = await t.reserve(subject, { sms: 40 });
      expect(released.decision).toMatchObject({ allowed: true, remaining: 60 });
      await released.release();
      await released.release();
      await t.flush();
      expect(await service.provider.getAllocation(subject, 'sms')).toEqual({
        total: 100,
        used: 0,
        available: 100,
      });

      const committed = await t.reserve(subject, { sms: 12.5 });
      await Promise.all([committed.commit(), committed.commit()]);
      await committed.release();
      await t.flush();
      expect(await service.provider.getAllocation(subject, 'sms')).toEqual({
        total: 100,
        used: 12.5,
        available: 87.5,
      });
    }, 60_000);
  }
});
