import { createTollgate, type Tollgate, type TollgateEvents } from '@tollgate/core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { type LicensarioService, startLicensarioService } from './helpers/licensario-service.js';
import { type ProxyAction, type ServiceProxy, startServiceProxy } from './helpers/service-proxy.js';

// The batched meter against the real service through a real proxy: one request carries the
// usage of many keys, each with its own idempotency key, so a lost answer, an outage or a
// service without the batch endpoint still counts every unit exactly once.

const catalog = { plans: [{ id: 'pro', name: 'Pro', features: { sms: 1000 } }] };
const BATCH = 'POST /api/v1/allocations/batch';

let service: LicensarioService;
let proxy: ServiceProxy;
let onRequest: (method: string, url: string) => ProxyAction;
let tollgate: Tollgate | undefined;
let run = 0;

beforeAll(async () => {
  service = await startLicensarioService(catalog);
  proxy = await startServiceProxy(service.url, (req) => onRequest(req.method ?? '', req.url ?? ''));
});

beforeEach(() => {
  run += 1;
  onRequest = () => 'forward';
  proxy.seen.length = 0;
});

afterEach(async () => {
  await tollgate?.close({ timeoutMs: 0 });
  tollgate = undefined;
});

afterAll(async () => {
  await proxy?.close();
  await service?.close();
});

/** `n` licensed subjects of this test, known to the engine (their first check is done). */
async function subjects(n: number, engine: Tollgate) {
  const list = Array.from({ length: n }, (_, i) => ({ externalUserId: `run${run}-user${i}` }));
  for (const subject of list) await service.provider.createLicense(subject, 'pro');
  for (const subject of list) await engine.check(subject, 'sms');
  proxy.seen.length = 0;
  return list;
}

function engine(meter: { maxBatchSize?: number } = {}) {
  tollgate = createTollgate({
    provider: service.client({ baseUrl: proxy.url, timeoutMs: 5000 }),
    retry: { attempts: 1 },
    meter: { flushIntervalMs: 60_000, ...meter },
  });
  return tollgate;
}

const used = async (subject: { externalUserId: string }) =>
  (await service.server.provider.getAllocation(subject, 'sms')).used;
const usageWrites = () => proxy.seen.filter((r) => r.startsWith('POST'));

it('sends the usage of many keys in one request, and counts each key once', async () => {
  const tg = engine();
  const list = await subjects(30, tg);
  for (const [i, subject] of list.entries()) await tg.authrep(subject, { sms: i + 1 });
  await tg.flush();
  expect(usageWrites()).toEqual([BATCH]);
  for (const [i, subject] of list.entries()) expect(await used(subject)).toBe(i + 1);
  expect(tg.stats()).toMatchObject({ flushOk: 30, flushFailed: 0, usageDropped: 0, pendingKeys: 0 });
});

it('splits a flush of more than 100 keys into requests of at most 100', async () => {
  const tg = engine();
  const list = await subjects(150, tg);
  for (const subject of list) await tg.authrep(subject, { sms: 2 });
  await tg.flush();
  expect(usageWrites()).toEqual([BATCH, BATCH]);
  const totals = await Promise.all(list.map(used));
  expect(totals.every((total) => total === 2)).toBe(true);
});

it('keys over the size bound in the same turn of the event loop go in one request', async () => {
  const tg = engine({ maxBatchSize: 2 });
  const list = await subjects(3, tg);
  for (const subject of list) await tg.authrep(subject, { sms: 2 });
  await tg.flush(); // waits for the request the size bound started
  expect(usageWrites()).toEqual([BATCH]);
  for (const subject of list) expect(await used(subject)).toBe(2);
});

it('a batch whose answer was lost is resent with the same keys and counted once', async () => {
  const tg = engine();
  const list = await subjects(5, tg);
  const failed: TollgateEvents['flush:failed'][] = [];
  tg.on('flush:failed', (e) => failed.push(e));
  for (const subject of list) await tg.authrep(subject, { sms: 3 });
  onRequest = (method, url) => (method === 'POST' && url.endsWith('/batch') ? 'cut' : 'forward');
  await tg.flush(); // applied at the service, answer lost
  expect(failed.map((e) => e.willRetry)).toEqual([true, true, true, true, true]);
  for (const subject of list) expect(await used(subject)).toBe(3);

  onRequest = () => 'forward';
  await tg.authrep(list[0]!, { sms: 1 });
  await tg.flush(); // the lost batch again (replayed by the service), then the new unit
  expect(usageWrites()).toEqual([BATCH, BATCH, BATCH]);
  expect(await used(list[0]!)).toBe(4);
  for (const subject of list.slice(1)) expect(await used(subject)).toBe(3);
  expect(tg.stats()).toMatchObject({ usageDropped: 0, pendingKeys: 0 });
});

it('an outage keeps every key queued, and the next flush counts each once', async () => {
  const tg = engine();
  const list = await subjects(4, tg);
  for (const subject of list) await tg.authrep(subject, { sms: 5 });
  onRequest = (method) =>
    method === 'POST' ? { status: 503, body: '{"code":"internal","message":"down"}' } : 'forward';
  await tg.flush();
  expect(tg.stats()).toMatchObject({ pendingKeys: 4, usageDropped: 0 });
  for (const subject of list) expect(await used(subject)).toBe(0);

  onRequest = () => 'forward';
  await tg.flush();
  for (const subject of list) expect(await used(subject)).toBe(5);
  expect(tg.stats()).toMatchObject({ pendingKeys: 0, usageDropped: 0 });
});

it('a key the service refuses is reported as dropped; the others in its request are counted', async () => {
  const tg = engine();
  const list = await subjects(3, tg);
  const dropped: TollgateEvents['usage:dropped'][] = [];
  tg.on('usage:dropped', (e) => dropped.push(e));
  for (const subject of list) await tg.authrep(subject, { sms: 7 });
  const [license] = await service.provider.getLicenses(list[1]!);
  await service.provider.revokeLicense(license!.id);
  await tg.flush();
  expect(usageWrites()).toEqual([BATCH]);
  expect(dropped).toMatchObject([{ subject: list[1], featureId: 'sms', amount: 7 }]);
  expect(await used(list[0]!)).toBe(7);
  expect(await used(list[2]!)).toBe(7);
  expect(tg.stats()).toMatchObject({ pendingKeys: 0, usageDropped: 1 });
});

it('without the batch endpoint it sends one request per key, and stops asking for batches', async () => {
  const tg = engine();
  const list = await subjects(3, tg);
  onRequest = (_method, url) =>
    url.endsWith('/allocations/batch')
      ? { status: 404, body: '{"code":"not_found","message":"No endpoint."}' }
      : 'forward';
  for (const subject of list) await tg.authrep(subject, { sms: 4 });
  await tg.flush();
  const writes = usageWrites();
  expect(writes[0]).toBe(BATCH);
  expect(writes.slice(1)).toHaveLength(3);
  expect(writes.slice(1).every((w) => w.endsWith('/licenses/features/sms/alloc'))).toBe(true);
  for (const subject of list) expect(await used(subject)).toBe(4);

  proxy.seen.length = 0;
  await tg.authrep(list[0]!, { sms: 1 });
  await tg.flush();
  expect(usageWrites()).toEqual([
    `POST /api/v1/users/external/${list[0]!.externalUserId}/licenses/features/sms/alloc`,
  ]);
  expect(await used(list[0]!)).toBe(5);
  expect(tg.stats().usageDropped).toBe(0);
});

it('a batch refused as a whole is logged, and its keys go one by one with the same keys', async () => {
  const errors: string[] = [];
  const logger = {
    debug() {},
    info() {},
    warn() {},
    error: (_: object, message: string) => errors.push(message),
  };
  tollgate = createTollgate({
    provider: service.client({ baseUrl: proxy.url, timeoutMs: 5000 }),
    retry: { attempts: 1 },
    meter: { flushIntervalMs: 60_000 },
    logger,
  });
  const list = await subjects(2, tollgate);
  for (const subject of list) await tollgate.authrep(subject, { sms: 6 });
  let refuse = true;
  onRequest = (_method, url) => {
    if (url.endsWith('/allocations/batch') && refuse) {
      refuse = false;
      return { status: 400, body: '{"code":"invalid_request","message":"no"}' };
    }
    return 'forward';
  };
  await tollgate.flush();
  expect(errors).toEqual([
    'tollgate: the batch endpoint refused a usage flush; flushing one key per request from now on',
  ]);
  expect(usageWrites().slice(1)).toHaveLength(2);
  for (const subject of list) expect(await used(subject)).toBe(6);
  expect(tollgate.stats()).toMatchObject({ usageDropped: 0, pendingKeys: 0 });
});
