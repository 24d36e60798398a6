import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TollgateServer } from './server.js';
import { call, capturingLogger, SECRET, startServer } from './test-support.js';

const { logger, lines } = capturingLogger();
let server: TollgateServer;

beforeAll(async () => {
  server = await startServer({ logger });
});
afterAll(() => server?.close());

it('logs requests by route template and status, never credentials or ids', async () => {
  await call(server, 'POST', '/api/v1/users/external/private-id/licenses', { form: 'paymentPlanId=free' });
  await call(server, 'GET', '/api/v1/plans', {
    auth: false,
    headers: { ISV_API_KEY: 'k', ISV_API_SECRET: 'wrong-secret-value' },
  });
  expect(lines).toContain(
    `debug request ${JSON.stringify({ method: 'POST', route: 'POST /api/v1/users/external/:id/licenses', status: 201 })}`,
  );
  expect(lines).toContain(
    `debug request ${JSON.stringify({ method: 'GET', route: 'GET /api/v1/plans', status: 401 })}`,
  );
  const all = lines.join('\n');
  for (const secret of [SECRET, 'wrong-secret-value', 'private-id']) expect(all).not.toContain(secret);
});
