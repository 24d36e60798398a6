import { createTollgate, type LicensarioProvider, licensarioProvider, type Tollgate } from '@tollgate/core';
import { createServer, type TollgateServer } from '@tollgate/server';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { type ServiceProxy, startServiceProxy } from './helpers/service-proxy.js';

// A proxy in front of the real service that lets a usage write through and then cuts the
// connection before the answer reaches the client: the service has counted the batch, the
// client does not know. The retried flush (same Idempotency-Key) must not count it again.

const catalog = { plans: [{ id: 'pro', name: 'Pro', features: { sms: 100 } }] };
const credentials = [{ key: 'lost-key', secret: 'lost-secret-91b2' }];

let service: TollgateServer;
let proxy: ServiceProxy;
let provider: LicensarioProvider;
let tollgate: Tollgate | undefined;
let cutNextWrites = 0;
let writesSeen = 0;

beforeAll(async () => {
  service = await createServer({ catalog, port: 0, credentials });
  proxy = await startServiceProxy(service.url, (req) => {
    const isUsageWrite = req.method === 'POST' && /\/alloc(ations\/batch)?$/.test(req.url ?? '');
    if (isUsageWrite) writesSeen += 1;
    const cut = isUsageWrite && cutNextWrites > 0;
    if (cut) cutNextWrites -= 1;
    return cut ? 'cut' : 'forward';
  });
  provider = licensarioProvider({
    baseUrl: proxy.url,
    apiKey: credentials[0]!.key,
    apiSecret: credentials[0]!.secret,
    timeoutMs: 5000,
  });
});

beforeEach(() => {
  cutNextWrites = 0;
  writesSeen = 0;
});

afterEach(async () => {
  await tollgate?.close({ timeoutMs: 0 });
  tollgate = undefined;
});

afterAll(async () => {
  await provider?.close();
  await proxy?.close();
  await service?.close();
});

it('batched: a flush whose answer was lost is resent with the same key and counted once', async () => {
  const subject = { externalUserId: 'lost-answer' };
  await provider.createLicense(subject, 'pro');
  tollgate = createTollgate({ provider, retry: { attempts: 1 }, meter: { flushIntervalMs: 60_000 } });
  const failed: unknown[] = [];
  tollgate.on('flush:failed', (e) => failed.push(e));
  for (let i = 0; i < 7; i += 1) await tollgate.authrep(subject, { sms: 1.5 });
  cutNextWrites = 1;
  await tollgate.flush(); // applied at the service, answer lost
  expect(failed).toHaveLength(1);
  expect((await service.provider.getAllocation(subject, 'sms')).used).toBe(10.5);
  await tollgate.authrep(subject, { sms: 2 });
  await tollgate.flush(); // the same batch again (replayed by the service), then the new one
  expect(writesSeen).toBe(3);
  expect((await service.provider.getAllocation(subject, 'sms')).used).toBe(12.5);
  expect(tollgate.stats().usageDropped).toBe(0);
});

it('sync: a decrement whose answer was lost is retried inside the budget and counted once', async () => {
  const subject = { externalUserId: 'lost-sync' };
  await provider.createLicense(subject, 'pro');
  tollgate = createTollgate({ provider, meter: { mode: 'sync' }, retry: { attempts: 3, baseDelayMs: 1 } });
  cutNextWrites = 1;
  expect(await tollgate.authrep(subject, { sms: 4 })).toMatchObject({ allowed: true, remaining: 96 });
  expect(writesSeen).toBe(2);
  expect((await service.provider.getAllocation(subject, 'sms')).used).toBe(4);
});
