import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { TollgateServer } from './server.js';
import { call, startServer } from './test-support.js';

let dataDir: string | undefined;
let server: TollgateServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

it('keeps licences, usage, idempotency records and wizard tokens across a restart on the same data dir', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-restart-'));
  server = await startServer({ dataDir });
  const base = '/api/v1/users/external/survivor';
  const created = await call(server, 'POST', `${base}/licenses`, {
    form: 'paymentPlanId=pro',
    accept: 'application/json',
  });
  await call(server, 'POST', `${base}/features/sms/alloc`, {
    form: 'amount=12.5',
    headers: { 'Idempotency-Key': 'before-restart' },
  });
  const token = (await call(server, 'POST', '/api/v1/wizards', { form: 'externalUserId=survivor' })).text;
  await server.close();

  server = await startServer({ dataDir });
  const list = await call(server, 'GET', `${base}/licenses`, { accept: 'application/json' });
  expect(list.json().licenses).toEqual([
    {
      ...created.json(),
      features: [
        { id: 'reports' },
        { id: 'export' },
        { id: 'sms', totalAmount: '1000.0', amountUsed: '12.5' },
      ],
    },
  ]);
  expect((await call(server, 'GET', `${base}/features/sms/alloc`)).json()).toEqual({
    total: '1000.0',
    used: '12.5',
    available: 987.5,
  });
  const replay = await call(server, 'POST', `${base}/features/sms/alloc`, {
    form: 'amount=12.5',
    headers: { 'Idempotency-Key': 'before-restart' },
  });
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(replay.json().available).toBe(987.5);
  // The signing secret is kept in the store, so tokens issued before the restart still verify.
  expect(server.verifyWizardToken(token)).toBe('survivor');
}, 120_000);

it('refuses a second server on a data dir that is in use, and allows it once the first is closed', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-lock-'));
  server = await startServer({ dataDir });
  await expect(startServer({ dataDir })).rejects.toThrow(/in use by process \d+ \(this one\)/);
  await server.close();
  server = await startServer({ dataDir });
  expect((await call(server, 'GET', '/api/v1/plans')).status).toBe(200);
}, 120_000);
