import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AllocationExhaustedError,
  HttpError,
  InvalidAmountError,
  InvalidResponseError,
  isTollgateError,
  UnavailableError,
} from '../../errors.js';
import { type LicensarioProvider, licensarioProvider } from './provider.js';
import { closedPort, sendJson, startTestServer, type TestHandler, type TestServer } from './test-servers.js';
import { MAX_RESPONSE_BYTES } from './transport.js';

const SECRET = 'secret-s3cr3t-9b1d';
const subject = { externalUserId: 'u-1' };
const allocation = { total: '100.0', used: '35.5', available: 64.5 };

const opened: { servers: TestServer[]; providers: LicensarioProvider[] } = { servers: [], providers: [] };

afterEach(async () => {
  await Promise.all(opened.providers.splice(0).map((provider) => provider.close()));
  await Promise.all(opened.servers.splice(0).map((server) => server.close()));
});

async function serve(handler: TestHandler, timeoutMs = 2000) {
  const server = await startTestServer(handler);
  opened.servers.push(server);
  const provider = licensarioProvider({ baseUrl: server.url, apiKey: 'key-1', apiSecret: SECRET, timeoutMs });
  opened.providers.push(provider);
  return { server, provider };
}

/** Awaits a rejection and checks it never carries the secret in its message. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (reason: unknown) => reason as Error,
  );
  expect(isTollgateError(error)).toBe(true);
  expect(error.message).not.toContain(SECRET);
  return error;
}

describe('licensarioProvider sends what the wire format asks for', () => {
  it('sends credentials, Accept, a JSON body and the Idempotency-Key', async () => {
    const { server, provider } = await serve((_req, res) => sendJson(res, 200, allocation));
    await provider.adjustAllocation(subject, 'sms', 2.5, {
      floor: 0,
      planId: 'pro',
      idempotencyKey: 'idem-1',
    });
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/api/v1/users/external/u-1/licenses/features/sms/alloc');
    expect(request?.headers).toMatchObject({
      isv_api_key: 'key-1',
      isv_api_secret: SECRET,
      accept: 'application/json',
      'content-type': 'application/json',
      'idempotency-key': 'idem-1',
    });
    expect(JSON.parse(request?.body ?? '')).toEqual({ amount: '2.5', paymentPlanId: 'pro', floor: '0' });
  });

  it('sends tiny and huge amounts as plain decimals, never in exponent notation', async () => {
    const { server, provider } = await serve((_req, res) => sendJson(res, 200, allocation));
    await provider.adjustAllocation(subject, 'sms', 1e-7);
    await provider.setAllocation(subject, 'sms', 1e21);
    expect(server.requests.map((request) => JSON.parse(request.body).amount)).toEqual([
      '0.0000001',
      '1000000000000000000000',
    ]);
  });

  it('puts each id in one path segment, whatever characters it holds', async () => {
    const { server, provider } = await serve((req, res) =>
      req.method === 'DELETE' ? res.end() : sendJson(res, 200, allocation),
    );
    await provider.getAllocation({ userId: 'a/b c?' }, 'x/../y#z');
    await provider.getAllocation({ externalUserId: '..' }, '.');
    await provider.revokeLicense('l/1?x=y', { reason: 'fraud & abuse' });
    expect(server.requests.map((request) => request.url)).toEqual([
      '/api/v1/users/a%2Fb%20c%3F/licenses/features/x%2F..%2Fy%23z/alloc',
      '/api/v1/users/external/%2E%2E/licenses/features/%2E/alloc',
      '/api/v1/licenses/l%2F1%3Fx%3Dy?revokeReason=fraud+%26+abuse',
    ]);
  });

  it('sends GET filters in the query string as repeated keys, and no body', async () => {
    const { server, provider } = await serve((_req, res) => sendJson(res, 200, { licenses: [] }));
    await provider.getLicenses({ userId: '7' }, { featureIds: ['sms', 'reports'], planIds: ['pro'] });
    await provider.getLicenses({ userId: '7' });
    expect(server.requests.map((request) => request.url)).toEqual([
      '/api/v1/users/7/licenses?featureIds=sms&featureIds=reports&paymentPlanIds=pro',
      '/api/v1/users/7/licenses',
    ]);
    expect(server.requests[0]?.body).toBe('');
    expect(server.requests[0]?.headers['content-type']).toBeUndefined();
  });

  it('keeps the path prefix of baseUrl', async () => {
    const server = await startTestServer((_req, res) => sendJson(res, 200, { plans: [] }));
    opened.servers.push(server);
    const provider = licensarioProvider({
      baseUrl: `${server.url}/licensario/`,
      apiKey: 'k',
      apiSecret: SECRET,
    });
    opened.providers.push(provider);
    await provider.getPlans({ featureId: 'sms' });
    expect(server.requests[0]?.url).toBe('/licensario/api/v1/plans?featureId=sms');
  });

  it('reuses kept-alive sockets across calls', async () => {
    const ports = new Set<number | undefined>();
    const { provider } = await serve((_req, res, req) => {
      ports.add(req.socket.remotePort);
      sendJson(res, 200, allocation);
    });
    for (let i = 0; i < 20; i++) await provider.getAllocation(subject, 'sms');
    // Sequential calls: a socket may still be finishing its previous answer when the next call
    // is dispatched, so undici can open a second one; without keep-alive there would be 20.
    expect(ports.size).toBeLessThanOrEqual(3);
  });

  it("sends through the caller's dispatcher and leaves it open on close()", async () => {
    const server = await startTestServer((_req, res) => sendJson(res, 200, { plans: [] }));
    opened.servers.push(server);
    const agent = new Agent();
    try {
      const provider = licensarioProvider({
        baseUrl: server.url,
        apiKey: 'k',
        apiSecret: SECRET,
        dispatcher: agent,
      });
      expect(await provider.getPlans()).toEqual([]);
      await provider.close();
      const again = licensarioProvider({
        baseUrl: server.url,
        apiKey: 'k',
        apiSecret: SECRET,
        dispatcher: agent,
      });
      expect(await again.getPlans()).toEqual([]);
      expect(server.requests).toHaveLength(2);
    } finally {
      await agent.close();
    }
  });

  it('refuses a non-finite amount before sending anything', async () => {
    const { server, provider } = await serve((_req, res) => sendJson(res, 200, allocation));
    for (const amount of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = await rejection(provider.adjustAllocation(subject, 'sms', amount));
      expect(error).toBeInstanceOf(InvalidAmountError);
    }
    expect(server.requests).toHaveLength(0);
  });
});

describe('licensarioProvider reads the answers into core types', () => {
  it('reads a licence: dates as UTC Dates, decimals as numbers, trial flag, metered features', async () => {
    const { provider } = await serve((_req, res) =>
      sendJson(res, 200, {
        licenses: [
          {
            licenseId: '708',
            userId: '121',
            paymentPlanId: 'pro',
            issueDateUTC: '20120730134848',
            expirationDateUTC: '20120831000000',
            isTrial: true,
            features: [{ id: 'sms', totalAmount: '100.0', amountUsed: '12.38' }, { id: 'reports' }],
          },
          {
            licenseId: '709',
            userId: '121',
            paymentPlanId: 'basic',
            issueDateUTC: '20120730134848',
            expirationDateUTC: null,
            isTrial: false,
            features: [],
          },
        ],
      }),
    );
    const licenses = await provider.getLicenses(subject);
    expect(licenses).toEqual([
      {
        id: '708',
        userId: '121',
        planId: 'pro',
        issuedAt: new Date('2012-07-30T13:48:48Z'),
        expiresAt: new Date('2012-08-31T00:00:00Z'),
        trial: true,
        features: [{ id: 'sms', total: 100, used: 12.38 }, { id: 'reports' }],
      },
      {
        id: '709',
        userId: '121',
        planId: 'basic',
        issuedAt: new Date('2012-07-30T13:48:48Z'),
        expiresAt: null,
        trial: false,
        features: [],
      },
    ]);
  });

  it('reads an allocation, a wizard token, a transaction id and the balance', async () => {
    const { server, provider } = await serve((req, res) => {
      if (req.url.startsWith('/api/v1/wizards')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('tok.en-123\n');
      } else if (req.url.startsWith('/api/v1/transactions')) sendJson(res, 200, { id: '55' });
      else if (req.url.startsWith('/api/v1/publisher/balance')) sendJson(res, 200, { balance: '99.99' });
      else sendJson(res, 200, allocation);
    });
    expect(await provider.getAllocation(subject, 'sms')).toEqual({ total: 100, used: 35.5, available: 64.5 });
    expect(await provider.createWizardToken('u-1')).toBe('tok.en-123');
    expect(
      await provider.logTransaction({
        uuid: 'tx-1',
        licenseId: '708',
        amount: 40,
        externalTransactionId: 'TR1',
        subject,
        type: 'refund',
      }),
    ).toEqual({ id: '55' });
    const from = new Date('2026-01-01T00:00:00Z');
    const to = new Date('2026-02-01T12:30:00Z');
    expect(await provider.getBalance({ from, to })).toEqual({ balance: 99.99 });
    expect(JSON.parse(server.requests[2]?.body ?? '')).toEqual({
      uuid: 'tx-1',
      licenseId: '708',
      amount: '40',
      externalTransactionId: 'TR1',
      type: 'refund',
      externalUserId: 'u-1',
    });
    expect(server.requests[3]?.url).toBe(
      '/api/v1/publisher/balance?startDate=20260101000000&endDate=20260201123000',
    );
  });

  it('turns 409 exhausted into AllocationExhaustedError carrying what was available', async () => {
    const { provider } = await serve((_req, res) =>
      sendJson(res, 409, { code: 'exhausted', message: 'not enough left', available: '3.0' }),
    );
    const error = await rejection(provider.adjustAllocation(subject, 'sms', 5, { floor: 0 }));
    expect(error).toBeInstanceOf(AllocationExhaustedError);
    expect(error).toMatchObject({ code: 'TOLLGATE_EXHAUSTED', featureId: 'sms', available: 3 });
    expect(error.cause).toBeInstanceOf(HttpError);
  });
});

describe('licensarioProvider under faults', () => {
  it('gives up on a service that never answers, within its time budget', async () => {
    const { provider } = await serve(() => {}, 150);
    const error = await rejection(provider.getAllocation(subject, 'sms'));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ code: 'TOLLGATE_UNAVAILABLE', reason: 'timeout' });
    expect(error.message).toContain('within 150 ms');
    expect(error.message).toContain('raise timeoutMs');
  });

  it('times out a body that stops half-way', async () => {
    const { provider } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"total":');
    }, 150);
    const error = await rejection(provider.getAllocation(subject, 'sms'));
    expect(error).toMatchObject({ reason: 'timeout' });
  });

  it('says "refused" when nothing listens on the port', async () => {
    const port = await closedPort();
    const provider = licensarioProvider({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: 'k',
      apiSecret: SECRET,
    });
    opened.providers.push(provider);
    const error = await rejection(provider.getPlans());
    expect(error).toMatchObject({ code: 'TOLLGATE_UNAVAILABLE', reason: 'refused' });
    expect(error.message).toContain('is the service running');
  });

  it('says "reset" when the socket is closed mid-response', async () => {
    const { provider } = await serve((_req, res, req) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"total":', () => req.socket.destroy());
    });
    const error = await rejection(provider.getAllocation(subject, 'sms'));
    expect(error).toMatchObject({ code: 'TOLLGATE_UNAVAILABLE', reason: 'reset' });
  });

  it('says "reset" when the socket is closed before any answer', async () => {
    const { provider } = await serve((_req, _res, req) => req.socket.destroy());
    const error = await rejection(provider.getAllocation(subject, 'sms'));
    expect(error).toMatchObject({ reason: 'reset' });
  });

  it('rejects malformed JSON as an invalid response', async () => {
    const { provider } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"total": "1.0", ');
    });
    const error = await rejection(provider.getAllocation(subject, 'sms'));
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect(error.message).toContain('not JSON');
    expect(error.message).toContain('not speaking the Licensario JSON format');
  });

  it('rejects JSON of the wrong shape, with zod issues attached', async () => {
    const { provider } = await serve((_req, res) => sendJson(res, 200, { total: 'lots', used: '1.0' }));
    const error = (await rejection(provider.getAllocation(subject, 'sms'))) as InvalidResponseError;
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect(error.code).toBe('TOLLGATE_INVALID_RESPONSE');
    expect(error.issues.map((issue) => (issue as { path: unknown[] }).path[0])).toEqual(
      expect.arrayContaining(['total', 'available']),
    );
  });

  it('rejects a licence with an impossible date', async () => {
    const { provider } = await serve((_req, res) =>
      sendJson(res, 201, {
        licenseId: '1',
        userId: '1',
        paymentPlanId: 'pro',
        issueDateUTC: '2012-07-30',
        expirationDateUTC: null,
        isTrial: false,
        features: [],
      }),
    );
    const error = await rejection(provider.createLicense(subject, 'pro'));
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect(error.message).toContain('issueDateUTC');
  });

  it('turns a 500 HTML page into an HttpError without a service code', async () => {
    const { provider } = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html><body>Bad gateway</body></html>');
    });
    const error = (await rejection(
      provider.getLicenses({ userId: '1' }, { featureIds: ['sms'] }),
    )) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({
      code: 'TOLLGATE_HTTP',
      status: 500,
      serviceCode: undefined,
      method: 'GET',
      path: '/api/v1/users/1/licenses',
    });
    expect(error.message).toContain('retry later');
  });

  it('turns 401 into an HttpError with the body code, pointing at the credentials, never echoing the secret', async () => {
    const { provider } = await serve((req, res) =>
      // A careless service that echoes the secret it received: the message must still not carry it.
      sendJson(res, 401, {
        code: 'unauthorized',
        message: `bad secret ${String(req.headers.isv_api_secret)}`,
      }),
    );
    const error = (await rejection(provider.ensureLicense(subject, 'pro'))) as HttpError;
    expect(error).toMatchObject({ status: 401, serviceCode: 'unauthorized', method: 'PUT' });
    expect(error.message).toContain('check the apiKey and apiSecret');
    expect(error.message).toContain('[redacted]');
    expect(JSON.stringify(error)).not.toContain(SECRET);
  });

  it('stops a call when the caller aborts, and never sends an already-aborted one', async () => {
    const { server, provider } = await serve(() => {});
    const controller = new AbortController();
    const pending = provider.getAllocation(subject, 'sms', { signal: controller.signal });
    await waitFor(() => server.requests.length === 1);
    controller.abort();
    const error = await rejection(pending);
    expect(error).toMatchObject({ code: 'TOLLGATE_UNAVAILABLE', reason: 'aborted' });

    const again = await rejection(provider.getPlans(undefined, { signal: controller.signal }));
    expect(again).toMatchObject({ reason: 'aborted' });
    expect(server.requests).toHaveLength(1);
  });

  it('stops reading an answer larger than the bound, as an invalid response', async () => {
    const { provider } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      // Streams past the bound; the client must give up without buffering it all.
      const pump = () => {
        while (res.write(chunk)) {}
        res.once('drain', pump);
      };
      res.on('error', () => {});
      pump();
    });
    const error = await rejection(provider.getPlans());
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect(error.message).toContain(`more than ${MAX_RESPONSE_BYTES} bytes`);
  });

  it('refuses an Idempotency-Key a header cannot carry, before sending anything', async () => {
    const { server, provider } = await serve((_req, res) => sendJson(res, 200, allocation));
    for (const key of ['', 'two\nlines', ' padded ', 'x'.repeat(256)]) {
      const error = await rejection(provider.adjustAllocation(subject, 'sms', 1, { idempotencyKey: key }));
      expect(error).toMatchObject({ code: 'TOLLGATE_CONFIG' });
    }
    expect(server.requests).toHaveLength(0);
  });

  it('refuses calls after close()', async () => {
    const { provider } = await serve((_req, res) => sendJson(res, 200, { plans: [] }));
    await provider.close();
    const error = await rejection(provider.getPlans());
    expect(error).toMatchObject({ code: 'TOLLGATE_CLOSED' });
  });
});

/** Polls a condition on the event loop (the server records the request asynchronously). */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('licensarioProvider.adjustAllocations (the batch endpoint)', () => {
  const adjustments = [
    { subject, featureId: 'sms', usage: 2.5, idempotencyKey: 'k-1' },
    { subject: { userId: '7' }, featureId: 'mms', usage: 1, planId: 'pro', idempotencyKey: 'k-2' },
    { subject, featureId: 'fax', usage: 3, idempotencyKey: 'k-3' },
  ];

  it('sends every adjustment with its key in one request, and reads one outcome each', async () => {
    const { server, provider } = await serve((_req, res) =>
      sendJson(res, 200, {
        results: [
          { status: 200, allocation },
          { status: 200, allocation: { total: '10.0', used: '1.0', available: 9 }, replayed: true },
          { status: 404, code: 'no_license', message: 'no licence grants fax' },
        ],
      }),
    );
    const outcomes = await provider.adjustAllocations(adjustments);
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/v1/allocations/batch']);
    expect(server.requests[0]?.headers['idempotency-key']).toBeUndefined();
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({
      adjustments: [
        { externalUserId: 'u-1', featureId: 'sms', amount: '2.5', idempotencyKey: 'k-1' },
        { userId: '7', featureId: 'mms', amount: '1', paymentPlanId: 'pro', idempotencyKey: 'k-2' },
        { externalUserId: 'u-1', featureId: 'fax', amount: '3', idempotencyKey: 'k-3' },
      ],
    });
    expect(outcomes[0]).toEqual({ ok: true, allocation: { total: 100, used: 35.5, available: 64.5 } });
    expect(outcomes[1]).toEqual({ ok: true, allocation: { total: 10, used: 1, available: 9 } });
    const failed = outcomes[2];
    if (failed?.ok !== false) throw new Error('expected the third adjustment to fail');
    const error = failed.error as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 404, serviceCode: 'no_license' });
    // The message names the single request the adjustment stands for, and what to do.
    expect(error.message).toContain('/api/v1/users/external/u-1/licenses/features/fax/alloc');
    expect(error.message).toContain('createLicense');
  });

  it('turns an item answered 409 exhausted into AllocationExhaustedError', async () => {
    const { provider } = await serve((_req, res) =>
      sendJson(res, 200, {
        results: [{ status: 409, code: 'exhausted', message: 'not enough', available: '1.5' }],
      }),
    );
    const [outcome] = await provider.adjustAllocations(adjustments.slice(0, 1));
    expect((outcome as { error: Error }).error).toBeInstanceOf(AllocationExhaustedError);
    expect((outcome as { error: Error }).error).toMatchObject({ featureId: 'sms', available: 1.5 });
  });

  it('rejects an answer with the wrong number of results: none of them can be trusted', async () => {
    const { provider } = await serve((_req, res) =>
      sendJson(res, 200, { results: [{ status: 200, allocation }] }),
    );
    const error = await rejection(provider.adjustAllocations(adjustments));
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect(error.message).toContain('1 results for 3 adjustments');
  });

  it('says the endpoint is unsupported on a 404, and does not ask again', async () => {
    const { server, provider } = await serve((_req, res) =>
      sendJson(res, 404, { code: 'not_found', message: 'No endpoint POST /api/v1/allocations/batch.' }),
    );
    const first = await rejection(provider.adjustAllocations(adjustments));
    expect(first).toMatchObject({ code: 'TOLLGATE_UNSUPPORTED' });
    expect(first.cause).toBeInstanceOf(HttpError);
    const second = await rejection(provider.adjustAllocations(adjustments));
    expect(second).toMatchObject({ code: 'TOLLGATE_UNSUPPORTED' });
    expect(server.requests).toHaveLength(1);
  });

  it('sends more than 500 adjustments in requests of 500', async () => {
    const { server, provider } = await serve((request, res) => {
      const { adjustments: sent } = JSON.parse(request.body) as { adjustments: unknown[] };
      sendJson(res, 200, { results: sent.map(() => ({ status: 200, allocation })) });
    });
    const many = Array.from({ length: 1100 }, (_, i) => ({
      subject,
      featureId: 'sms',
      usage: 1,
      idempotencyKey: `k-${i}`,
    }));
    const outcomes = await provider.adjustAllocations(many);
    expect(outcomes).toHaveLength(1100);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(
      server.requests.map((r) => (JSON.parse(r.body) as { adjustments: unknown[] }).adjustments.length),
    ).toEqual([500, 500, 100]);
  });

  it('refuses a bad adjustment before sending anything', async () => {
    const { server, provider } = await serve((_req, res) => sendJson(res, 200, { results: [] }));
    await expect(
      provider.adjustAllocations([{ subject, featureId: 'sms', usage: Number.NaN, idempotencyKey: 'k' }]),
    ).rejects.toBeInstanceOf(InvalidAmountError);
    await expect(
      provider.adjustAllocations([{ subject, featureId: 'sms', usage: 1, idempotencyKey: '' }]),
    ).rejects.toMatchObject({ code: 'TOLLGATE_CONFIG' });
    expect(server.requests).toHaveLength(0);
  });
});
