import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TollgateServer } from './server.js';
import { call, KEY, ManualClock, SECRET, startServer } from './test-support.js';

const clock = new ManualClock();
let server: TollgateServer;
let n = 0;
/** A fresh external user per test, so tests do not see each other's licences. */
const user = () => `user-${++n}`;
const ext = (id: string) => `/api/v1/users/external/${encodeURIComponent(id)}`;

beforeAll(async () => {
  server = await startServer({
    clock,
    credentials: [
      { key: KEY, secret: SECRET },
      { key: 'rotated-key', secret: 'rotated-secret' },
    ],
  });
});
afterAll(() => server?.close());

describe('authentication', () => {
  it('answers 401 unauthorized without headers, with a wrong secret, or a key of another pair', async () => {
    const missing = await call(server, 'GET', '/api/v1/plans', { auth: false, accept: 'application/json' });
    expect(missing.status).toBe(401);
    expect(missing.json().code).toBe('unauthorized');
    const wrong = await call(server, 'GET', '/api/v1/plans', {
      auth: false,
      headers: { ISV_API_KEY: KEY, ISV_API_SECRET: 'nope' },
    });
    expect(wrong.status).toBe(401);
    const crossed = await call(server, 'GET', '/api/v1/plans', {
      auth: false,
      headers: { ISV_API_KEY: KEY, ISV_API_SECRET: 'rotated-secret' },
    });
    expect(crossed.status).toBe(401);
  });

  it('never echoes the secret it was sent', async () => {
    const res = await call(server, 'GET', '/api/v1/plans', {
      auth: false,
      headers: { ISV_API_KEY: KEY, ISV_API_SECRET: 'super-secret-value' },
    });
    expect(res.text).not.toContain('super-secret-value');
  });

  it('accepts any header spelling and the second (rotated) pair', async () => {
    const lower = await call(server, 'GET', '/api/v1/plans', {
      auth: false,
      headers: { isv_api_key: KEY, Isv_Api_Secret: SECRET },
    });
    expect(lower.status).toBe(200);
    const rotated = await call(server, 'GET', '/api/v1/plans', {
      auth: false,
      headers: { ISV_API_KEY: 'rotated-key', ISV_API_SECRET: 'rotated-secret' },
    });
    expect(rotated.status).toBe(200);
  });

  it('answers 401 (not 404) for an unknown path without credentials', async () => {
    const res = await call(server, 'GET', '/nope', { auth: false });
    expect(res.status).toBe(401);
  });
});

describe('licences', () => {
  it('creates a licence and answers Licensario XML by default', async () => {
    const id = user();
    const res = await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=pro' });
    expect(res.status).toBe(201);
    expect(res.contentType).toMatch(/^application\/xml/);
    expect(res.text.startsWith('<?xml version="1.0"?>\n<licenseCertificate ')).toBe(true);
    const issued = '20260115120000';
    const expires = '20260214120000'; // durationDays 30
    expect(res.text).toMatch(
      new RegExp(
        `<licenseCertificate licenseId="\\d+" userId="u\\d+" paymentPlanId="pro" issueDateUTC="${issued}" expirationDateUTC="${expires}" is_trial="false">`,
      ),
    );
    expect(res.text).toContain('<feature id="reports"/>');
    expect(res.text).toContain('<feature id="export"/>');
    expect(res.text).toContain('<feature id="sms" totalAmount="1000.0" amountUsed="0.0"/>');
  });

  it('leaves out expirationDateUTC for a licence that does not expire', async () => {
    const id = user();
    const res = await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    expect(res.status).toBe(201);
    expect(res.text).not.toContain('expirationDateUTC');
  });

  it('answers JSON when Accept prefers it (q-values honoured)', async () => {
    const id = user();
    const created = await call(server, 'POST', `${ext(id)}/licenses`, {
      json: { paymentPlanId: 'free' },
      accept: 'application/xml;q=0.5, application/json',
    });
    expect(created.status).toBe(201);
    expect(created.contentType).toMatch(/^application\/json/);
    expect(created.json()).toEqual({
      licenseId: expect.stringMatching(/^\d+$/),
      userId: expect.stringMatching(/^u\d+$/),
      paymentPlanId: 'free',
      issueDateUTC: '20260115120000',
      expirationDateUTC: null,
      isTrial: false,
      features: [{ id: 'reports' }, { id: 'sms', totalAmount: '10.0', amountUsed: '0.0' }],
    });
    const xmlPreferred = await call(server, 'GET', `${ext(id)}/licenses`, {
      accept: 'application/json;q=0.4, application/xml;q=0.9',
    });
    expect(xmlPreferred.contentType).toMatch(/^application\/xml/);
    const list = await call(server, 'GET', `${ext(id)}/licenses`, { accept: 'application/json' });
    expect(list.json().licenses).toHaveLength(1);
  });

  it('lists <userLicenses>, each licence with only its own features, filtered by feature and plan', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=team' });
    const all = await call(server, 'GET', `${ext(id)}/licenses`);
    expect(all.text.startsWith('<?xml version="1.0"?>\n<userLicenses>')).toBe(true);
    const certificates = all.text.split('<licenseCertificate ').slice(1);
    expect(certificates).toHaveLength(2);
    expect(certificates[0]).toContain('paymentPlanId="free"');
    expect(certificates[0]).not.toContain('id="export"');
    expect(certificates[1]).toContain('paymentPlanId="team"');
    expect(certificates[1]).not.toContain('id="reports"');

    const json = async (query: string, contentType?: string) =>
      (
        await call(server, 'GET', `${ext(id)}/licenses${query}`, {
          accept: 'application/json',
          ...(contentType ? { headers: { 'content-type': contentType } } : {}),
        })
      ).json().licenses as { paymentPlanId: string }[];
    const plans = async (query: string) => (await json(query)).map((l) => l.paymentPlanId).sort();
    expect(await plans('?featureIds=export')).toEqual(['team']);
    expect(await plans('?featureIds=reports&featureIds=export')).toEqual(['free', 'team']);
    expect(await plans('?featureIds=reports,export')).toEqual(['free', 'team']);
    expect(await plans('?featureIds[]=export')).toEqual(['team']);
    expect(await plans('?paymentPlanIds=free')).toEqual(['free']);
    expect(await plans('?featureIds=sms&paymentPlanIds=team')).toEqual(['team']);
    // A bare key is "not given", so it does not filter everything out.
    expect(await plans('?featureIds')).toEqual(['free', 'team']);
    expect(await plans('?featureIds&paymentPlanIds=free')).toEqual(['free']);
    expect(await plans('?featureIds=nothing-grants-this')).toEqual([]);
    // Clients send the form content type on GET with no body.
    expect(
      (await json('?paymentPlanIds=team', 'application/x-www-form-urlencoded')).map((l) => l.paymentPlanId),
    ).toEqual(['team']);
  });

  it('reads parameters from a form body on GET, the body winning over the query', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=team' });
    const body = 'paymentPlanIds=team';
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${server.url}${ext(id)}/licenses?paymentPlanIds=free`,
        {
          method: 'GET',
          headers: {
            ISV_API_KEY: KEY,
            ISV_API_SECRET: SECRET,
            accept: 'application/json',
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let data = '';
          res.on('data', (c) => {
            data += c;
          });
          res.on('end', () => resolve(data));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    const licenses = (JSON.parse(text) as { licenses: { paymentPlanId: string }[] }).licenses;
    expect(licenses.map((l) => l.paymentPlanId)).toEqual(['team']);
  });

  it('answers 404 unknown_plan, in XML or JSON as asked', async () => {
    const id = user();
    const xml = await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=gold' });
    expect(xml.status).toBe(404);
    expect(xml.text).toMatch(
      /^<\?xml version="1.0"\?>\n<error code="unknown_plan">\n {2}<message>Plan &quot;gold&quot; is not in the catalog/,
    );
    const json = await call(server, 'POST', `${ext(id)}/licenses`, {
      json: { paymentPlanId: 'gold' },
      accept: 'application/json',
    });
    expect(json.status).toBe(404);
    expect(json.json().code).toBe('unknown_plan');
  });

  it('answers 400 invalid_request naming a missing parameter', async () => {
    const res = await call(server, 'POST', `${ext(user())}/licenses`, { accept: 'application/json' });
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('paymentPlanId'),
    });
  });

  it('PUT licences ensures: 201 the first time, 200 with the same licence after', async () => {
    const id = user();
    const first = await call(server, 'PUT', `${ext(id)}/licenses`, {
      json: { paymentPlanId: 'pro' },
      accept: 'application/json',
    });
    expect(first.status).toBe(201);
    const second = await call(server, 'PUT', `${ext(id)}/licenses`, {
      form: 'paymentPlanId=pro',
      accept: 'application/json',
    });
    expect(second.status).toBe(200);
    expect(second.json().licenseId).toBe(first.json().licenseId);
  });

  it('revokes a licence: it disappears from the list; revoking again is 404 unknown_license', async () => {
    const id = user();
    const created = await call(server, 'POST', `${ext(id)}/licenses`, {
      form: 'paymentPlanId=free',
      accept: 'application/json',
    });
    const licenseId = created.json().licenseId as string;
    const revoked = await call(server, 'DELETE', `/api/v1/licenses/${licenseId}?revokeReason=Some%20reason`);
    expect(revoked.status).toBe(200);
    const list = await call(server, 'GET', `${ext(id)}/licenses`, { accept: 'application/json' });
    expect(list.json().licenses).toEqual([]);
    const again = await call(server, 'DELETE', `/api/v1/licenses/${licenseId}`, {
      accept: 'application/json',
    });
    expect(again.status).toBe(404);
    expect(again.json().code).toBe('unknown_license');
    const junk = await call(server, 'DELETE', '/api/v1/licenses/not-a-number', {
      accept: 'application/json',
    });
    expect(junk.json().code).toBe('unknown_license');
  });

  it('works for stored users (/api/v1/users/:user_id) and ids that need encoding', async () => {
    const res = await call(server, 'POST', '/api/v1/users/121/licenses', {
      form: 'paymentPlanId=free',
      accept: 'application/json',
    });
    expect(res.json().userId).toBe('121');
    const odd = 'a/b c?&<"';
    const created = await call(server, 'POST', `${ext(odd)}/licenses`, { form: 'paymentPlanId=free' });
    expect(created.status).toBe(201);
    const list = await call(server, 'GET', `${ext(odd)}/licenses`, { accept: 'application/json' });
    expect(list.json().licenses).toHaveLength(1);
  });

  it('escapes XML attribute values', async () => {
    const res = await call(server, 'POST', '/api/v1/users/%3Cx%20y%3D%22%26%22%3E/licenses', {
      form: 'paymentPlanId=free',
    });
    expect(res.text).toContain('userId="&lt;x y=&quot;&amp;&quot;&gt;"');
  });
});

describe('trials and expiry', () => {
  it('starts a trial lasting trialDays, once per subject and plan', async () => {
    const id = user();
    const trial = await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=pro&trial=true' });
    expect(trial.status).toBe(201);
    expect(trial.text).toContain('is_trial="true"');
    expect(trial.text).toContain('expirationDateUTC="20260129120000"'); // 14 days
    const again = await call(server, 'POST', `${ext(id)}/licenses`, {
      json: { paymentPlanId: 'pro', trial: true },
      accept: 'application/json',
    });
    expect(again.status).toBe(409);
    expect(again.json().code).toBe('trial_used');
    const noTrial = await call(server, 'POST', `${ext(id)}/licenses`, {
      json: { paymentPlanId: 'free', trial: true },
      accept: 'application/json',
    });
    expect(noTrial.status).toBe(409);
    expect(noTrial.json().code).toBe('no_trial');
  });

  it('stops counting an expired licence: listed, but no allocation, and ensure issues a new one', async () => {
    const id = user();
    const start = clock.ms;
    try {
      const created = await call(server, 'POST', `${ext(id)}/licenses`, {
        form: 'paymentPlanId=pro',
        accept: 'application/json',
      });
      clock.advanceDays(29);
      expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json().available).toBe(1000);
      clock.advanceDays(1); // exactly at expiry: expired
      expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json()).toEqual({
        total: '0.0',
        used: '0.0',
        available: 0,
      });
      const usage = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, {
        form: 'amount=1',
        accept: 'application/json',
      });
      expect(usage.status).toBe(404);
      expect(usage.json().code).toBe('no_license');
      const list = await call(server, 'GET', `${ext(id)}/licenses`, { accept: 'application/json' });
      expect(list.json().licenses).toHaveLength(1);
      const ensured = await call(server, 'PUT', `${ext(id)}/licenses`, {
        form: 'paymentPlanId=pro',
        accept: 'application/json',
      });
      expect(ensured.status).toBe(201);
      expect(ensured.json().licenseId).not.toBe(created.json().licenseId);
    } finally {
      clock.ms = start;
    }
  });
});

describe('allocations', () => {
  it('reads, records usage (POST) and sets (PUT) on both alloc paths, form and JSON bodies', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    const long = `${ext(id)}/licenses/features/sms/alloc`;
    const short = `${ext(id)}/features/sms/alloc`;
    const read = await call(server, 'GET', long);
    expect(read.contentType).toMatch(/^application\/json/);
    expect(read.text).toBe('{"total":"10.0","used":"0.0","available":10}');
    const used = await call(server, 'POST', short, { form: 'amount=2.5' });
    expect(used.json()).toEqual({ total: '10.0', used: '2.5', available: 7.5 });
    const usedJson = await call(server, 'POST', long, { json: { amount: 0.25 } });
    expect(usedJson.json()).toEqual({ total: '10.0', used: '2.75', available: 7.25 });
    const refund = await call(server, 'POST', short, { json: { amount: '-0.75' } });
    expect(refund.json()).toEqual({ total: '10.0', used: '2.0', available: 8 });
    const set = await call(server, 'PUT', long, { json: { amount: '3' } });
    expect(set.json()).toEqual({ total: '10.0', used: '7.0', available: 3 });
    const setForm = await call(server, 'PUT', short, { form: 'amount=12.38' });
    expect(setForm.json()).toEqual({ total: '10.0', used: '-2.38', available: 12.38 });
    expect((await call(server, 'GET', short)).json().available).toBe(12.38);
  });

  it('is exact with decimals (no binary floating point drift)', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    for (let i = 0; i < 10; i++)
      await call(server, 'POST', `${ext(id)}/features/sms/alloc`, { form: 'amount=0.1' });
    expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).text).toBe(
      '{"total":"10.0","used":"1.0","available":9}',
    );
  });

  it('answers zeros for a subject or feature nobody granted, and 404 no_license on writes', async () => {
    const id = user();
    expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json()).toEqual({
      total: '0.0',
      used: '0.0',
      available: 0,
    });
    const write = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, {
      form: 'amount=1',
      accept: 'application/json',
    });
    expect(write.status).toBe(404);
    expect(write.json().code).toBe('no_license');
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    const boolean = await call(server, 'PUT', `${ext(id)}/features/reports/alloc`, {
      form: 'amount=1',
      accept: 'application/json',
    });
    expect(boolean.json().code).toBe('no_license');
  });

  it('rejects amounts that are not finite decimals with 400 invalid_amount', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    for (const amount of ['abc', 'NaN', 'Infinity', '-Infinity', '', '1e3', '1,5']) {
      const res = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, {
        form: `amount=${encodeURIComponent(amount)}`,
        accept: 'application/json',
      });
      expect({ amount, status: res.status, code: res.json().code }).toEqual({
        amount,
        status: 400,
        code: 'invalid_amount',
      });
    }
    const missing = await call(server, 'PUT', `${ext(id)}/features/sms/alloc`, {
      accept: 'application/json',
    });
    expect(missing.json()).toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('amount'),
    });
    expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json().available).toBe(10);
  });

  it('floor=0 refuses usage past the allocation with 409 exhausted and changes nothing', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    const ok = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, { form: 'amount=9&floor=0' });
    expect(ok.json().available).toBe(1);
    const refused = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, {
      json: { amount: 2, floor: 0 },
      accept: 'application/json',
    });
    expect(refused.status).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'exhausted', available: 1 });
    expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json().available).toBe(1);
    // Without floor, Licensario's behaviour: usage is recorded, available goes negative.
    const over = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, { form: 'amount=2' });
    expect(over.json().available).toBe(-1);
    const badFloor = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, {
      form: 'amount=1&floor=5',
      accept: 'application/json',
    });
    expect(badFloor.json().code).toBe('invalid_request');
  });

  it('narrows to one plan with paymentPlanId', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=team' });
    expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json().available).toBe(110);
    expect(
      (await call(server, 'GET', `${ext(id)}/features/sms/alloc?paymentPlanId=free`)).json().available,
    ).toBe(10);
    const used = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, {
      form: 'amount=4&paymentPlanId=team',
    });
    expect(used.json()).toEqual({ total: '100.0', used: '4.0', available: 96 });
  });

  it('spreads usage over several licences: expiring first, non-expiring last; refunds in reverse', async () => {
    const id = user();
    // forever (5, never expires), team (100, 365 days), free (10, never expires).
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=forever' });
    clock.ms += 1000;
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=team' });
    clock.ms += 1000;
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    const amounts = async () => {
      const res = await call(server, 'GET', `${ext(id)}/licenses?featureIds=sms`, {
        accept: 'application/json',
      });
      const licenses = res.json().licenses as {
        paymentPlanId: string;
        features: { id: string; amountUsed?: string }[];
      }[];
      return Object.fromEntries(
        licenses.map((l) => [l.paymentPlanId, l.features.find((f) => f.id === 'sms')?.amountUsed]),
      );
    };
    const alloc = `${ext(id)}/features/sms/alloc`;
    expect((await call(server, 'GET', alloc)).json()).toEqual({
      total: '115.0',
      used: '0.0',
      available: 115,
    });
    // Draw order: team (expires) → forever (older non-expiring) → free (last).
    await call(server, 'POST', alloc, { form: 'amount=103' });
    expect(await amounts()).toEqual({ team: '100.0', forever: '3.0', free: '0.0' });
    await call(server, 'POST', alloc, { form: 'amount=10&floor=0' });
    expect(await amounts()).toEqual({ team: '100.0', forever: '5.0', free: '8.0' });
    const refused = await call(server, 'POST', alloc, {
      form: 'amount=3&floor=0',
      accept: 'application/json',
    });
    expect(refused.status).toBe(409);
    expect(await amounts()).toEqual({ team: '100.0', forever: '5.0', free: '8.0' });
    // Past the last licence (no floor): the remainder lands on the last one.
    await call(server, 'POST', alloc, { form: 'amount=4' });
    expect(await amounts()).toEqual({ team: '100.0', forever: '5.0', free: '12.0' });
    // Refund: from the last licence back towards the first.
    await call(server, 'POST', alloc, { form: 'amount=-14' });
    expect(await amounts()).toEqual({ team: '100.0', forever: '3.0', free: '0.0' });
    await call(server, 'POST', alloc, { form: 'amount=-200' });
    expect(await amounts()).toEqual({ team: '-97.0', forever: '0.0', free: '0.0' });
    // PUT = POST of (available − amount).
    const set = await call(server, 'PUT', alloc, { form: 'amount=15' });
    expect(set.json()).toEqual({ total: '115.0', used: '100.0', available: 15 });
    expect(await amounts()).toEqual({ team: '100.0', forever: '0.0', free: '0.0' });
  });
});

describe('request handling', () => {
  it('answers 413 payload_too_large for a body over 64 KiB', async () => {
    const res = await call(server, 'POST', `${ext(user())}/licenses`, {
      form: `paymentPlanId=free&pad=${'x'.repeat(65 * 1024)}`,
      accept: 'application/json',
    });
    expect(res.status).toBe(413);
    expect(res.json().code).toBe('payload_too_large');
  });

  it('answers 400 for malformed JSON and 404 not_found for unknown endpoints', async () => {
    const bad = await fetch(`${server.url}${ext(user())}/licenses`, {
      method: 'POST',
      headers: {
        ISV_API_KEY: KEY,
        ISV_API_SECRET: SECRET,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: '{"paymentPlanId":',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('invalid_request');
    const missing = await call(server, 'GET', '/api/v2/whatever', { accept: 'application/json' });
    expect(missing.status).toBe(404);
    expect(missing.json().code).toBe('not_found');
  });

  it('counts requests per route template', async () => {
    const before = server.stats.count('GET /api/v1/users/external/:id/licenses');
    const total = server.stats.total;
    await call(server, 'GET', `${ext(user())}/licenses`);
    await call(server, 'GET', `${ext(user())}/licenses`);
    expect(server.stats.count('GET /api/v1/users/external/:id/licenses')).toBe(before + 2);
    expect(server.stats.total).toBe(total + 2);
  });
});

describe('idempotency', () => {
  it('replays a repeated Idempotency-Key without applying it again', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    const headers = { 'Idempotency-Key': `k-${id}` };
    const first = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, { form: 'amount=3', headers });
    const second = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, { form: 'amount=3', headers });
    expect(first.json().available).toBe(7);
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json().available).toBe(7);
  });

  it('replays a created licence with its status, body and content type', async () => {
    const id = user();
    const headers = { 'Idempotency-Key': `lic-${id}` };
    const first = await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free', headers });
    const second = await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free', headers });
    expect([second.status, second.contentType, second.text]).toEqual([201, first.contentType, first.text]);
    const list = await call(server, 'GET', `${ext(id)}/licenses`, { accept: 'application/json' });
    expect(list.json().licenses).toHaveLength(1);
  });

  it('answers 422 idempotency_mismatch when the key is reused for another request', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    const headers = { 'Idempotency-Key': `mm-${id}` };
    await call(server, 'POST', `${ext(id)}/features/sms/alloc`, { form: 'amount=1', headers });
    const other = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, {
      form: 'amount=2',
      headers,
      accept: 'application/json',
    });
    expect(other.status).toBe(422);
    expect(other.json().code).toBe('idempotency_mismatch');
    expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json().available).toBe(9);
  });

  it('treats both alloc path spellings and any encoding of the ids as one request for a key', async () => {
    const id = `a/b ${user()}`;
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    const headers = { 'Idempotency-Key': `paths-${id}` };
    const first = await call(server, 'POST', `${ext(id)}/licenses/features/sms/alloc`, {
      json: { amount: '2' },
      headers,
    });
    expect(first.json().available).toBe(8);
    const lowerHex = `/api/v1/users/external/${encodeURIComponent(id).replace('%2F', '%2f')}`;
    const again = await call(server, 'POST', `${lowerHex}/features/sms/alloc`, { form: 'amount=2', headers });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.text).toBe(first.text);
    // Another subject kind, another feature or another method is another request.
    const stored = await call(server, 'POST', `/api/v1/users/${encodeURIComponent(id)}/features/sms/alloc`, {
      form: 'amount=2',
      headers,
      accept: 'application/json',
    });
    expect(stored.json().code).toBe('idempotency_mismatch');
    const put = await call(server, 'PUT', `${ext(id)}/features/sms/alloc`, {
      form: 'amount=2',
      headers,
      accept: 'application/json',
    });
    expect(put.json().code).toBe('idempotency_mismatch');
    expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json().available).toBe(8);
  });

  it('applies concurrent requests with one key once', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    const headers = { 'Idempotency-Key': `cc-${id}` };
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(server, 'POST', `${ext(id)}/features/sms/alloc`, { form: 'amount=1', headers }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect((await call(server, 'GET', `${ext(id)}/features/sms/alloc`)).json().available).toBe(9);
  });

  it('does not keep a refused write: the same key applies once allocation is back', async () => {
    const id = user();
    await call(server, 'POST', `${ext(id)}/licenses`, { form: 'paymentPlanId=free' });
    await call(server, 'PUT', `${ext(id)}/features/sms/alloc`, { form: 'amount=0' });
    const headers = { 'Idempotency-Key': `rf-${id}` };
    const refused = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, {
      form: 'amount=1&floor=0',
      headers,
    });
    expect(refused.status).toBe(409);
    await call(server, 'PUT', `${ext(id)}/features/sms/alloc`, { form: 'amount=5' });
    const applied = await call(server, 'POST', `${ext(id)}/features/sms/alloc`, {
      form: 'amount=1&floor=0',
      headers,
    });
    expect(applied.json().available).toBe(4);
  });
});

describe('users, wizards, transactions, plans', () => {
  it('PUT $BASE ensures an external user', async () => {
    const id = user();
    const res = await call(server, 'PUT', ext(id), { json: { email: 'some@user.net' } });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ userId: expect.stringMatching(/^u\d+$/), externalUserId: id });
    const again = await call(server, 'PUT', ext(id), { form: 'email=other@user.net' });
    expect(again.json().userId).toBe(res.json().userId);
  });

  it('POST /api/v1/wizards answers a plain-text token the server verifies until it expires', async () => {
    const res = await call(server, 'POST', '/api/v1/wizards', { form: 'externalUserId=wizard-user' });
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/plain/);
    expect(server.verifyWizardToken(res.text)).toBe('wizard-user');
    expect(() => server.verifyWizardToken(`${res.text}x`)).toThrow(/signature/);
    const start = clock.ms;
    clock.ms += 10 * 60_000;
    try {
      expect(() => server.verifyWizardToken(res.text)).toThrow(
        expect.objectContaining({ code: 'TOLLGATE_INVALID_TOKEN', reason: 'expired' }),
      );
    } finally {
      clock.ms = start;
    }
  });

  it('logs transactions once per uuid and sums the balance net of refunds', async () => {
    const id = user();
    const created = await call(server, 'POST', `${ext(id)}/licenses`, {
      form: 'paymentPlanId=pro',
      accept: 'application/json',
    });
    const licenseId = created.json().licenseId as string;
    const before = (await call(server, 'GET', '/api/v1/publisher/balance')).json().balance as string;
    const tx = (form: string) =>
      call(server, 'PUT', '/api/v1/transactions', { form, accept: 'application/json' });
    const first = await tx(
      `uuid=t1-${id}&licenseId=${licenseId}&amount=40.0&externalTransactionId=TR1&externalUserId=${id}&type=license`,
    );
    expect(first.json()).toEqual({ id: expect.stringMatching(/^\d+$/) });
    const repeat = await tx(
      `uuid=t1-${id}&licenseId=${licenseId}&amount=40.0&externalUserId=${id}&type=license`,
    );
    expect(repeat.json().id).toBe(first.json().id);
    await tx(`uuid=t2-${id}&licenseId=${licenseId}&amount=0.01&externalUserId=${id}&type=refund`);
    const after = (await call(server, 'GET', '/api/v1/publisher/balance')).json().balance as string;
    expect(Number(after) - Number(before)).toBeCloseTo(39.99, 10);
    const empty = await call(
      server,
      'GET',
      '/api/v1/publisher/balance?startDate=20000101000000&endDate=20000102000000',
    );
    expect(empty.json()).toEqual({ balance: '0.0' });
    const badDate = await call(server, 'GET', '/api/v1/publisher/balance?startDate=2012-11-10', {
      accept: 'application/json',
    });
    expect(badDate.json().code).toBe('invalid_request');
    const both = await tx(`uuid=t3-${id}&amount=1&userId=1&externalUserId=2&type=license`);
    expect(both.status).toBe(400);
    const badType = await tx(`uuid=t4-${id}&amount=1&type=gift`);
    expect(badType.json().code).toBe('invalid_request');
  });

  it('GET /api/v1/plans lists the catalog, optionally only plans granting a feature', async () => {
    const all = await call(server, 'GET', '/api/v1/plans');
    expect(all.contentType).toMatch(/^application\/json/);
    expect((all.json().plans as { id: string }[]).map((p) => p.id)).toEqual([
      'free',
      'pro',
      'team',
      'forever',
    ]);
    const exporting = await call(server, 'GET', '/api/v1/plans?featureId=export');
    expect(exporting.json().plans).toEqual([
      {
        id: 'pro',
        name: 'Pro',
        trialDays: 14,
        durationDays: 30,
        features: { reports: true, export: true, sms: 1000 },
      },
      { id: 'team', name: 'Team', durationDays: 365, features: { export: true, sms: 100 } },
    ]);
    expect((await call(server, 'GET', '/api/v1/plans?featureId=toString')).json().plans).toEqual([]);
  });
});
