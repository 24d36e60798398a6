import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TollgateServer } from './server.js';
import { Store } from './store/store.js';
import { call, capturingLogger, KEY, SECRET, startServer } from './test-support.js';

const { logger, lines } = capturingLogger();

let server: TollgateServer;
let n = 0;
/** A fresh external user per test, so tests do not see each other's licences. */
const user = () => `batch-user-${++n}`;
const ext = (id: string) => `/api/v1/users/external/${encodeURIComponent(id)}`;
const BATCH = '/api/v1/allocations/batch';

interface Result {
  status: number;
  allocation?: { total: string; used: string; available: number };
  replayed?: true;
  code?: string;
  message?: string;
  available?: number;
}

const batch = async (adjustments: unknown[], headers: Record<string, string> = {}) => {
  const res = await call(server, 'POST', BATCH, {
    json: { adjustments },
    accept: 'application/json',
    headers,
  });
  expect(res.status).toBe(200);
  expect(res.contentType).toMatch(/^application\/json/);
  return res.json().results as Result[];
};
const license = async (path: string, plan: string) =>
  expect((await call(server, 'POST', `${path}/licenses`, { form: `paymentPlanId=${plan}` })).status).toBe(
    201,
  );
const alloc = async (path: string, featureId = 'sms') =>
  (await call(server, 'GET', `${path}/features/${featureId}/alloc`)).json();

beforeAll(async () => {
  server = await startServer({ logger });
});
afterAll(() => server?.close());
afterEach(() => {
  vi.restoreAllMocks();
});

describe('POST /api/v1/allocations/batch', () => {
  it('applies adjustments for several subjects and features in one request, in order', async () => {
    const [a, b] = [user(), user()];
    const stored = `/api/v1/users/${encodeURIComponent(`stored ${a}`)}`;
    await license(ext(a), 'free'); // sms 10
    await license(ext(b), 'free');
    await license(ext(b), 'team'); // sms 100
    await license(stored, 'forever'); // sms 5
    const batchesBefore = server.stats.count(`POST ${BATCH}`);
    const results = await batch([
      { externalUserId: a, featureId: 'sms', amount: '2', idempotencyKey: `${a}-1` },
      {
        externalUserId: b,
        featureId: 'sms',
        amount: '12.5',
        paymentPlanId: 'team',
        idempotencyKey: `${b}-1`,
      },
      { userId: `stored ${a}`, featureId: 'sms', amount: 1.25 },
      { externalUserId: a, featureId: 'sms', amount: '-0.5', idempotencyKey: `${a}-2` },
      { externalUserId: b, featureId: 'sms', amount: '1', floor: '0' },
    ]);
    expect(results).toEqual([
      { status: 200, allocation: { total: '10.0', used: '2.0', available: 8 } },
      { status: 200, allocation: { total: '100.0', used: '12.5', available: 87.5 } },
      { status: 200, allocation: { total: '5.0', used: '1.25', available: 3.75 } },
      { status: 200, allocation: { total: '10.0', used: '1.5', available: 8.5 } },
      { status: 200, allocation: { total: '110.0', used: '13.5', available: 96.5 } },
    ]);
    expect(await alloc(ext(a))).toEqual({ total: '10.0', used: '1.5', available: 8.5 });
    expect(await alloc(ext(b))).toEqual({ total: '110.0', used: '13.5', available: 96.5 });
    expect(await alloc(stored)).toEqual({ total: '5.0', used: '1.25', available: 3.75 });
    expect(server.stats.count(`POST ${BATCH}`)).toBe(batchesBefore + 1);
  });

  it('answers each failing item with the single request’s error while the others apply', async () => {
    const [a, nobody] = [user(), user()];
    await license(ext(a), 'free'); // sms 10
    const results = await batch([
      { externalUserId: a, featureId: 'sms', amount: '4', idempotencyKey: `${a}-ok-1` },
      { externalUserId: nobody, featureId: 'sms', amount: '1', idempotencyKey: `${a}-nolicense` },
      { externalUserId: a, featureId: 'sms', amount: '7', floor: 0, idempotencyKey: `${a}-floor` },
      { featureId: 'sms', amount: '1' },
      { userId: 'x', externalUserId: a, featureId: 'sms', amount: '1' },
      { externalUserId: '', featureId: 'sms', amount: '1' },
      { externalUserId: a, amount: '1' },
      { externalUserId: a, featureId: 'sms', amount: 'abc' },
      { externalUserId: a, featureId: 'sms' },
      { externalUserId: a, featureId: 'sms', amount: '1', floor: '5' },
      { externalUserId: a, featureId: 'sms', amount: '1', idempotencyKey: 'k'.repeat(256) },
      { externalUserId: a, featureId: 'sms', amount: { value: 1 } },
      'not an object',
      { externalUserId: a, featureId: 'reports', amount: '1' },
      { externalUserId: a, featureId: 'sms', amount: '1', paymentPlanId: 'pro' },
      { externalUserId: a, featureId: 'sms', amount: 1, idempotencyKey: `${a}-ok-2` },
    ]);
    expect(results.map((r) => [r.status, r.code ?? r.allocation?.available])).toEqual([
      [200, 6],
      [404, 'no_license'],
      [409, 'exhausted'],
      [400, 'invalid_request'],
      [400, 'invalid_request'],
      [400, 'invalid_request'],
      [400, 'invalid_request'],
      [400, 'invalid_amount'],
      [400, 'invalid_request'],
      [400, 'invalid_request'],
      [400, 'invalid_request'],
      [400, 'invalid_request'],
      [400, 'invalid_request'],
      [404, 'no_license'],
      [404, 'no_license'],
      [200, 5],
    ]);
    expect(results[2]).toEqual({
      status: 409,
      code: 'exhausted',
      message: expect.stringContaining('sms'),
      available: 6,
    });
    expect(results[3]?.message).toContain('externalUserId');
    expect(results[4]?.message).toContain('not both');
    expect(results[6]?.message).toContain('featureId');
    expect(results[8]?.message).toContain('amount');
    expect(results[9]?.message).toContain('floor');
    expect(results[10]?.message).toContain('255');
    expect(await alloc(ext(a))).toEqual({ total: '10.0', used: '5.0', available: 5 });
    // A refused item kept no idempotency record: the same key applies once there is room.
    const retried = await batch([
      { externalUserId: a, featureId: 'sms', amount: '5', floor: 0, idempotencyKey: `${a}-floor` },
    ]);
    expect(retried).toEqual([{ status: 200, allocation: { total: '10.0', used: '10.0', available: 0 } }]);
  });

  it('applies a batch sent twice with the same keys once, and answers the second with replayed: true', async () => {
    const [a, b] = [user(), user()];
    await license(ext(a), 'free');
    await license(ext(b), 'pro');
    const adjustments = [
      { externalUserId: a, featureId: 'sms', amount: '3', idempotencyKey: `twice-${a}` },
      {
        externalUserId: b,
        featureId: 'sms',
        amount: '30',
        paymentPlanId: 'pro',
        idempotencyKey: `twice-${b}`,
      },
    ];
    const first = await batch(adjustments);
    const second = await batch(adjustments);
    expect(first).toEqual([
      { status: 200, allocation: { total: '10.0', used: '3.0', available: 7 } },
      { status: 200, allocation: { total: '1000.0', used: '30.0', available: 970 } },
    ]);
    expect(second).toEqual(first.map((r) => ({ ...r, replayed: true })));
    expect((await alloc(ext(a))).available).toBe(7);
    expect((await alloc(ext(b))).available).toBe(970);
  });

  it('shares keys with the single POST alloc: a key from a batch retried alone (or the reverse) is a replay', async () => {
    const a = `odd/id ${user()}.`;
    await license(ext(a), 'pro'); // sms 1000
    const [batchKey, singleKey] = [`bk-${a}`, `sk-${a}`];
    const first = await batch([
      { externalUserId: a, featureId: 'sms', amount: '12', paymentPlanId: 'pro', idempotencyKey: batchKey },
    ]);
    expect(first).toEqual([{ status: 200, allocation: { total: '1000.0', used: '12.0', available: 988 } }]);
    // Exactly as @tollgate/core's adjustAllocation sends it: the long path, a JSON body.
    const single = await call(server, 'POST', `${ext(a)}/licenses/features/sms/alloc`, {
      json: { amount: '12', paymentPlanId: 'pro' },
      headers: { 'Idempotency-Key': batchKey },
    });
    expect(single.status).toBe(200);
    expect(single.headers.get('idempotent-replayed')).toBe('true');
    expect(single.json()).toEqual(first[0]?.allocation);
    expect((await alloc(ext(a))).available).toBe(988);

    // The reverse: alone first (the short path, another encoding of the id, a form body), then in a batch.
    const otherEncoding = `/api/v1/users/external/${encodeURIComponent(a).replaceAll('%2F', '%2f').replaceAll('.', '%2E')}`;
    const alone = await call(server, 'POST', `${otherEncoding}/features/sms/alloc`, {
      form: 'amount=2&floor=0',
      headers: { 'Idempotency-Key': singleKey },
    });
    expect(alone.json()).toEqual({ total: '1000.0', used: '14.0', available: 986 });
    const replayed = await batch([
      { externalUserId: a, featureId: 'sms', amount: '2', floor: '0', idempotencyKey: singleKey },
      { externalUserId: a, featureId: 'sms', amount: '13', paymentPlanId: 'pro', idempotencyKey: batchKey },
      { externalUserId: a, featureId: 'export', amount: '2', floor: '0', idempotencyKey: singleKey },
    ]);
    expect(replayed[0]).toEqual({
      status: 200,
      allocation: { total: '1000.0', used: '14.0', available: 986 },
      replayed: true,
    });
    // The same key with a different adjustment (amount, or feature) is refused for that item.
    expect(replayed[1]).toMatchObject({ status: 422, code: 'idempotency_mismatch' });
    expect(replayed[2]).toMatchObject({ status: 422, code: 'idempotency_mismatch' });
    expect((await alloc(ext(a))).available).toBe(986);
  });

  it('ignores an Idempotency-Key header on the batch itself: the items carry the keys', async () => {
    const a = user();
    await license(ext(a), 'free');
    const headers = { 'Idempotency-Key': `header-${a}` };
    const item = { externalUserId: a, featureId: 'sms', amount: '1' };
    expect((await batch([item], headers))[0]?.allocation?.available).toBe(9);
    expect((await batch([item], headers))[0]?.allocation?.available).toBe(8);
    expect((await batch([item], { 'Idempotency-Key': 'k'.repeat(300) }))[0]?.allocation?.available).toBe(7);
  });

  it('answers 401 without credentials and applies nothing', async () => {
    const a = user();
    await license(ext(a), 'free');
    const res = await call(server, 'POST', BATCH, {
      auth: false,
      json: { adjustments: [{ externalUserId: a, featureId: 'sms', amount: '1' }] },
      accept: 'application/json',
    });
    expect(res.status).toBe(401);
    expect(res.json().code).toBe('unauthorized');
    const wrong = await call(server, 'POST', BATCH, {
      auth: false,
      headers: { ISV_API_KEY: KEY, ISV_API_SECRET: `${SECRET}-not` },
      json: { adjustments: [{ externalUserId: a, featureId: 'sms', amount: '1' }] },
    });
    expect(wrong.status).toBe(401);
    expect((await alloc(ext(a))).available).toBe(10);
  });

  it('answers 400 invalid_request for a whole request that is not a list of 1 to 1000 adjustments', async () => {
    const a = user();
    await license(ext(a), 'free');
    const item = { externalUserId: a, featureId: 'sms', amount: '0.001' };
    const refused = async (body: string, contentType = 'application/json') => {
      const res = await fetch(`${server.url}${BATCH}`, {
        method: 'POST',
        headers: {
          ISV_API_KEY: KEY,
          ISV_API_SECRET: SECRET,
          'content-type': contentType,
          accept: 'application/json',
        },
        body,
      });
      expect(res.status).toBe(400);
      const json = (await res.json()) as { code: string; message: string };
      expect(json.code).toBe('invalid_request');
      return json.message;
    };
    expect(await refused(JSON.stringify({ adjustments: Array(1001).fill(item) }))).toContain('1000');
    expect(await refused(JSON.stringify({ adjustments: [] }))).toContain('empty');
    expect(await refused('{"adjustments": [')).toContain('JSON');
    expect(await refused(JSON.stringify({ items: [item] }))).toContain('adjustments');
    expect(await refused(JSON.stringify([item]))).toContain('adjustments');
    expect(await refused(JSON.stringify({ adjustments: item }))).toContain('adjustments');
    expect(await refused('')).toContain('JSON');
    expect(await refused('adjustments=1', 'application/x-www-form-urlencoded')).toContain('application/json');
    // Errors of the whole request are negotiated as usual: XML unless JSON is preferred.
    const xml = await call(server, 'POST', BATCH, { json: { adjustments: [] } });
    expect(xml.status).toBe(400);
    expect(xml.text).toContain('<error code="invalid_request">');
    expect((await alloc(ext(a))).available).toBe(10);
  });

  it('accepts a body over 64 KiB (up to 1 MiB) and refuses more with 413 payload_too_large', async () => {
    const a = user();
    await license(ext(a), 'pro'); // sms 1000
    const adjustments = Array.from({ length: 1000 }, (_, i) => ({
      externalUserId: a,
      featureId: 'sms',
      amount: '0.5',
      idempotencyKey: `${String(i).padStart(4, '0')}-${'k'.repeat(200)}-${a}`,
    }));
    expect(JSON.stringify({ adjustments }).length).toBeGreaterThan(200 * 1024);
    const results = await batch(adjustments);
    expect(results).toHaveLength(1000);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results[999]?.allocation).toEqual({ total: '1000.0', used: '500.0', available: 500 });
    expect((await alloc(ext(a))).available).toBe(500);

    const huge = await call(server, 'POST', BATCH, {
      json: {
        adjustments: [{ externalUserId: a, featureId: 'sms', amount: '1', pad: 'x'.repeat(1024 * 1024) }],
      },
      accept: 'application/json',
    });
    expect(huge.status).toBe(413);
    expect(huge.json().code).toBe('payload_too_large');
    expect((await alloc(ext(a))).available).toBe(500);
  });

  it('answers an unexpected failure of one item with 500 internal, logs it without ids or credentials, and goes on', async () => {
    const [a, failing] = [user(), user()];
    await license(ext(a), 'free');
    await license(ext(failing), 'free');
    const original = Store.prototype.adjustAllocation;
    vi.spyOn(Store.prototype, 'adjustAllocation').mockImplementation(function (this: Store, ...args) {
      const [subject] = args;
      if ('externalUserId' in subject && subject.externalUserId === failing) {
        return Promise.reject(new Error('disk on fire'));
      }
      return original.apply(this, args);
    });
    lines.length = 0;
    const results = await batch([
      { externalUserId: a, featureId: 'sms', amount: '1', idempotencyKey: `boom-1-${a}` },
      { externalUserId: failing, featureId: 'sms', amount: '1', idempotencyKey: `boom-2-${a}` },
      { externalUserId: failing, featureId: 'sms', amount: '1' },
      { externalUserId: a, featureId: 'sms', amount: '2' },
    ]);
    expect(results).toEqual([
      { status: 200, allocation: { total: '10.0', used: '1.0', available: 9 } },
      { status: 500, code: 'internal', message: 'Internal error; the service log has the details.' },
      { status: 500, code: 'internal', message: 'Internal error; the service log has the details.' },
      { status: 200, allocation: { total: '10.0', used: '3.0', available: 7 } },
    ]);
    const errors = lines.filter((l) => l.startsWith('error '));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain('batch item failed');
    expect(errors[0]).toContain('disk on fire');
    expect(errors[0]).toContain('"item":1');
    const all = lines.join('\n');
    for (const secret of [SECRET, failing, `boom-2-${a}`]) expect(all).not.toContain(secret);
    // The failed item's key was not kept: sent again once the fault is gone, it applies.
    vi.restoreAllMocks();
    const again = await batch([
      { externalUserId: failing, featureId: 'sms', amount: '1', idempotencyKey: `boom-2-${a}` },
    ]);
    expect(again).toEqual([{ status: 200, allocation: { total: '10.0', used: '1.0', available: 9 } }]);
  });
});

describe('POST /api/v1/allocations/batch: common items applied together', () => {
  /** Licences on `target` for one run of the scenario; returns the items to send. */
  const scenario = async (target: TollgateServer, tag: string) => {
    const s = (name: string) => `${tag}-${name}`;
    const lic = async (id: string, plan: string) =>
      expect(
        (await call(target, 'POST', `${ext(id)}/licenses`, { form: `paymentPlanId=${plan}` })).status,
      ).toBe(201);
    for (const name of [
      'one',
      'floor',
      'alias',
      'bad',
      'refused',
      'pre',
      'refund',
      'k1',
      'k2',
      'plan',
      'lone',
      'kbad',
    ]) {
      await lic(s(name), name === 'floor' || name === 'lone' ? 'forever' : 'free');
    }
    await lic(s('two'), 'free');
    await lic(s('two'), 'team');
    // The same subject by its service id: one allocation under two spellings.
    const aliasId = (await call(target, 'PUT', ext(s('alias')))).json().userId as string;
    // A key already used alone, with the same adjustment: the batch item replays it.
    const pre = await call(target, 'POST', `${ext(s('pre'))}/features/sms/alloc`, {
      json: { amount: '1' },
      headers: { 'Idempotency-Key': s('kpre') },
    });
    expect(pre.status).toBe(200);
    const sms = (
      who: Record<string, string>,
      amount: string,
      extra: Record<string, unknown> = {},
    ): Record<string, unknown> => ({
      ...who,
      featureId: 'sms',
      amount,
      ...extra,
    });
    const e = (name: string) => ({ externalUserId: s(name) });
    return [
      sms(e('one'), '2', { idempotencyKey: s('k1') }),
      sms(e('two'), '12', { floor: '0', idempotencyKey: s('k2') }), // two licences
      sms(e('floor'), '4', { floor: '0', idempotencyKey: s('k3') }),
      sms(e('floor'), '4', { floor: '0', idempotencyKey: s('k4') }), // after the one above: refused
      sms(e('one'), '1', { idempotencyKey: s('k1') }), // the key again, another amount: mismatch
      sms(e('alias'), '3', { idempotencyKey: s('k5') }),
      sms({ userId: aliasId }, '1'),
      sms(e('bad'), 'abc'),
      sms(e('refused'), '11', { floor: '0', idempotencyKey: s('k8') }),
      sms(e('refused'), '10', { floor: '0', idempotencyKey: s('k8') }), // the refused key, free again
      sms(e('nobody'), '1'),
      sms(e('pre'), '1', { idempotencyKey: s('kpre') }),
      sms(e('refund'), '-1'),
      sms(e('k1'), '3', { idempotencyKey: s('k11') }),
      sms(e('k2'), '1', { idempotencyKey: s('k11') }), // another subject under the same key
      sms(e('plan'), '1', { paymentPlanId: 'pro' }),
      sms(e('plan'), '1.5', { paymentPlanId: 'free', floor: 0 }),
      sms(e('lone'), '6', { floor: '0', idempotencyKey: s('klone') }), // alone on its allocation: refused
      sms(e('kbad'), 'x', { idempotencyKey: s('kbad') }), // a key first used by an item that does not read
      sms(e('kbad'), '2', { idempotencyKey: s('kbad') }),
    ];
  };

  const singleResult = async (target: TollgateServer, item: Record<string, unknown>): Promise<Result> => {
    const { userId, externalUserId, featureId, idempotencyKey, ...body } = item;
    const base =
      userId === undefined
        ? ext(externalUserId as string)
        : `/api/v1/users/${encodeURIComponent(userId as string)}`;
    const res = await call(target, 'POST', `${base}/features/${featureId as string}/alloc`, {
      json: body,
      accept: 'application/json',
      headers: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey as string },
    });
    const json = res.json();
    const replayed = res.headers.get('idempotent-replayed') === 'true' ? { replayed: true as const } : {};
    return res.status === 200
      ? { status: 200, allocation: json as NonNullable<Result['allocation']>, ...replayed }
      : { status: res.status, ...json };
  };

  it('answers every item as the same requests sent one by one, in order, would', async () => {
    const alone = await startServer();
    try {
      const items = await scenario(server, 'together');
      const expected = [];
      for (const item of await scenario(alone, 'together')) expected.push(await singleResult(alone, item));
      const applyOneByOne = vi.spyOn(Store.prototype, 'adjustAllocation');
      const results = await batch(items);
      expect(results).toEqual(expected);
      expect(results.map((r) => [r.status, r.code ?? r.allocation?.available])).toEqual([
        [200, 8],
        [200, 98],
        [200, 1],
        [409, 'exhausted'],
        [422, 'idempotency_mismatch'],
        [200, 7],
        [200, 6],
        [400, 'invalid_amount'],
        [409, 'exhausted'],
        [200, 0],
        [404, 'no_license'],
        [200, 9],
        [200, 11],
        [200, 7],
        [422, 'idempotency_mismatch'],
        [404, 'no_license'],
        [200, 8.5],
        [409, 'exhausted'],
        [400, 'invalid_amount'],
        [200, 8],
      ]);
      expect(results[11]?.replayed).toBe(true);
      // Only the items that need it ran alone: the several-licence one, the pairs on one
      // allocation (the pair by external id and service id included), the two without a
      // licence, the one the floor refused when applied together, and the one whose key an
      // earlier item used first. The rest (one licence, a new key or none) went together.
      expect(applyOneByOne).toHaveBeenCalledTimes(12);
      const allocOn = async (target: TollgateServer, name: string) =>
        (await call(target, 'GET', `${ext(`together-${name}`)}/features/sms/alloc`)).json();
      for (const name of ['one', 'two', 'floor', 'alias', 'refused', 'pre', 'refund', 'k1', 'plan']) {
        expect(await allocOn(server, name)).toEqual(await allocOn(alone, name));
      }
      // The answers were kept with the keys: sent again, each applied keyed item replays.
      const applied = items.filter(
        (item, i) => item.idempotencyKey !== undefined && results[i]?.status === 200,
      );
      const before = await Promise.all(
        ['one', 'floor', 'alias', 'refused', 'k1'].map((n) => allocOn(server, n)),
      );
      expect(await batch(applied)).toEqual(
        results.filter((_, i) => applied.includes(items[i]!)).map((r) => ({ ...r, replayed: true })),
      );
      expect(
        await Promise.all(['one', 'floor', 'alias', 'refused', 'k1'].map((n) => allocOn(server, n))),
      ).toEqual(before);
    } finally {
      await alone.close();
    }
  });

  it('applies each item alone, once, when applying them together fails, and logs why', async () => {
    const [a, b] = [user(), user()];
    await license(ext(a), 'free');
    await license(ext(b), 'free');
    vi.spyOn(Store.prototype, 'adjustAllocations').mockRejectedValueOnce(new Error('connection reset'));
    lines.length = 0;
    const items = [
      { externalUserId: a, featureId: 'sms', amount: '2', idempotencyKey: `fallback-${a}` },
      { externalUserId: b, featureId: 'sms', amount: '3' },
    ];
    expect(await batch(items)).toEqual([
      { status: 200, allocation: { total: '10.0', used: '2.0', available: 8 } },
      { status: 200, allocation: { total: '10.0', used: '3.0', available: 7 } },
    ]);
    const warnings = lines.filter((l) => l.startsWith('warn '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('connection reset');
    expect(warnings[0]).not.toContain(a);
    // The claim made before the failure was rolled back with it, then made by the item alone.
    expect(await batch(items.slice(0, 1))).toEqual([
      { status: 200, allocation: { total: '10.0', used: '2.0', available: 8 }, replayed: true },
    ]);
  });
});
