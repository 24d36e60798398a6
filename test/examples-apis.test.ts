import type { Server } from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp as createExpressApp } from '../examples/express/src/app.js';
import { createApp as createKoaApp } from '../examples/koa/src/app.js';
import { type Backend, startBackend } from '../examples/shared/src/backend.js';

// The Express and Koa examples promise the same API; each runs here against its own
// embedded service, started by the backend both mains use (examples/shared): real PGlite
// store, real HTTP between Tollgate and the service.
const examples = [
  {
    name: 'examples/express',
    start: startBackend,
    listen: (backend: Backend): Server =>
      createExpressApp({ tollgate: backend.tollgate }).listen(0, '127.0.0.1'),
  },
  {
    name: 'examples/koa',
    start: startBackend,
    listen: (backend: Backend): Server => createKoaApp({ tollgate: backend.tollgate }).listen(0, '127.0.0.1'),
  },
];

describe.each(examples)('$name', ({ start, listen }) => {
  let backend: Backend;
  let server: Server;

  beforeAll(async () => {
    backend = await start();
    server = listen(backend);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await backend?.close();
  });

  const as = (userId: string) => ({ 'X-User-Id': userId });

  it('GET /export: allowed with the feature, 403 problem+json without it, 401 without a user', async () => {
    const bob = await request(server).get('/export').set(as('bob'));
    expect(bob.status).toBe(200);
    expect(bob.body).toMatchObject({ export: 'signups.csv', plan: 'pro' });

    const alice = await request(server).get('/export').set(as('alice'));
    expect(alice.status).toBe(403);
    expect(alice.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(alice.body).toMatchObject({ status: 403, reason: 'not_licensed', featureId: 'export' });

    const nobody = await request(server).get('/export');
    expect(nobody.status).toBe(401);
    expect(nobody.body).toMatchObject({ reason: 'no_subject' });
  });

  it('GET /team/reports: only the team plan is let in, even for a user who holds reports on pro', async () => {
    expect((await request(server).get('/team/reports').set(as('carol'))).status).toBe(200);
    const bob = await request(server).get('/team/reports').set(as('bob'));
    expect(bob.status).toBe(403);
    expect(bob.body).toMatchObject({ reason: 'not_licensed', featureId: 'reports', planId: 'team' });
  });

  it('POST /sms: each call uses one unit, the call past the allocation gets 402, and the service is charged exactly', async () => {
    const alice = { externalUserId: 'alice' };
    await backend.tollgate.provider.setAllocation(alice, 'sms', 2);

    const first = await request(server).post('/sms').set(as('alice'));
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ sent: true, remaining: 1 });
    expect((await request(server).post('/sms').set(as('alice'))).body).toEqual({ sent: true, remaining: 0 });

    const third = await request(server).post('/sms').set(as('alice'));
    expect(third.status).toBe(402);
    expect(third.body).toMatchObject({ reason: 'exhausted', featureId: 'sms', remaining: 0 });

    await backend.tollgate.flush();
    expect(await backend.tollgate.provider.getAllocation(alice, 'sms')).toMatchObject({ available: 0 });
  });
});
