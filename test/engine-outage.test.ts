import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTollgate, type LicensarioProvider, licensarioProvider, type Tollgate } from '@tollgate/core';
import { createServer, type TollgateServer } from '@tollgate/server';
import { afterEach, expect, it } from 'vitest';

// Outage drill against the real service: charge, stop the service, keep charging (stale answers,
// then fail-closed after staleTtl), restart it on the same data dir, close() → the service's
// `used` is exactly the sum of the committed charges.

const catalog = { plans: [{ id: 'pro', name: 'Pro', features: { reports: true, sms: 1000 } }] };
const credentials = [{ key: 'drill-key', secret: 'drill-secret-7f3a' }];

let dataDir: string | undefined;
let server: TollgateServer | undefined;
let provider: LicensarioProvider | undefined;
let tollgate: Tollgate | undefined;

afterEach(async () => {
  await tollgate?.close({ timeoutMs: 0 });
  await provider?.close();
  await server?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  tollgate = provider = server = dataDir = undefined;
});

it('loses nothing and counts nothing twice across a service outage and restart', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-outage-'));
  server = await createServer({ catalog, port: 0, dataDir, credentials });
  const port = server.port;
  provider = licensarioProvider({
    baseUrl: server.url,
    apiKey: credentials[0]!.key,
    apiSecret: credentials[0]!.secret,
    timeoutMs: 5000,
  });
  const subject = { externalUserId: 'drill-user' };
  await provider.createLicense(subject, 'pro');

  // Engine time is a manual clock: cache TTLs, staleTtl and the circuit's reset follow it.
  let now = Date.now();
  const clock = { now: () => now };
  const t = createTollgate({
    provider,
    clock,
    timeoutMs: 5000,
    retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
    cache: { ttlMs: 1000, staleTtlMs: 10_000 },
    circuit: { failureThreshold: 3, resetMs: 500 },
    meter: { mode: 'batched', flushIntervalMs: 60_000 },
  });
  tollgate = t;
  const dropped: unknown[] = [];
  t.on('usage:dropped', (e) => dropped.push(e));

  // Committed charges in tenths, so the expected total is exact.
  let committedTenths = 0;
  const charge = async (tenths: number) => {
    const decision = await t.authrep(subject, { sms: tenths / 10 });
    if (decision.allowed) committedTenths += tenths;
    return decision;
  };

  // 1. Service up: charge, flush part of it, leave some pending.
  for (const tenths of [1, 2, 15, 3]) expect(await charge(tenths)).toMatchObject({ allowed: true });
  await t.flush();
  expect(await charge(7)).toMatchObject({ allowed: true, source: 'cache' });

  // 2. Service down. The cached answer expires; stale answers are served and usage is queued.
  await server.close();
  server = undefined;
  now += 1500;
  for (const tenths of [4, 11, 1]) {
    expect(await charge(tenths)).toMatchObject({ allowed: true, source: 'stale' });
  }
  const released = await t.reserve(subject, { sms: 50 });
  expect(released.decision).toMatchObject({ allowed: true, source: 'stale' });
  await released.release();
  const committed = await t.reserve(subject, { sms: 2.5 });
  await committed.commit();
  await committed.commit();
  committedTenths += 25;
  await t.flush(); // fails: the batch stays queued
  expect(t.stats().pendingKeys).toBeGreaterThan(0);

  // 3. Past staleTtl: fail closed, nothing charged.
  now += 10_000;
  expect(await charge(9)).toMatchObject({ allowed: false, reason: 'unavailable', source: 'fallback' });
  expect(await t.check(subject, 'reports')).toMatchObject({ allowed: false, reason: 'unavailable' });

  // 4. Restart on the same data dir and port; close() flushes what is pending.
  server = await createServer({ catalog, port, dataDir, credentials });
  now += 1000; // past the circuit's resetMs, so the next call is its probe
  await t.close({ timeoutMs: 10_000 });
  tollgate = undefined;

  expect(dropped).toEqual([]);
  expect(t.stats().usageDropped).toBe(0);
  const allocation = await provider.getAllocation(subject, 'sms');
  expect(allocation.used).toBe(committedTenths / 10);
  expect(allocation.available).toBe(1000 - committedTenths / 10);
}, 120_000);
