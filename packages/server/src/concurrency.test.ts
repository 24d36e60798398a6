import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TollgateServer } from './server.js';
import { AUTH, startServer } from './test-support.js';

let server: TollgateServer;

beforeAll(async () => {
  server = await startServer({
    catalog: { plans: [{ id: 'hundred', name: 'Hundred', features: { sms: 100 } }] },
  });
});
afterAll(async () => {
  await server?.close();
});

it('200 concurrent floor=0 uses of 1 on an allocation of 100: exactly 100 succeed, available ends at 0', async () => {
  const base = `${server.url}/api/v1/users/external/race`;
  const post = (path: string, body: string) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
    });
  expect((await post('/licenses', 'paymentPlanId=hundred')).status).toBe(201);

  const responses = await Promise.all(
    Array.from({ length: 200 }, () => post('/features/sms/alloc', 'amount=1&floor=0')),
  );
  const bodies = await Promise.all(
    responses.map((r) => r.json() as Promise<{ code?: string; available?: number }>),
  );
  const ok = responses.filter((r) => r.status === 200).length;
  const refused = responses.filter((r) => r.status === 409).length;
  expect({ ok, refused }).toEqual({ ok: 100, refused: 100 });
  expect(bodies.filter((b) => b.code === 'exhausted')).toHaveLength(100);
  // Every success saw a distinct remaining amount: no two were applied against the same state.
  const remaining = bodies.filter((b) => b.code === undefined).map((b) => b.available);
  expect(new Set(remaining).size).toBe(100);

  const alloc = await fetch(`${base}/features/sms/alloc`, { headers: AUTH });
  expect(await alloc.json()).toEqual({ total: '100.0', used: '100.0', available: 0 });
});
