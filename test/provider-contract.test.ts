import { memoryProvider } from '@tollgate/core';
import { createServer, type TollgateServer } from '@tollgate/server';
import { startLicensarioService } from './helpers/licensario-service.js';
import { describeProviderContract } from './provider-contract.js';

// The same suite against every implementation: what passes here is safe to swap.

describeProviderContract('licensarioProvider over the real service', async (catalog) => {
  const service = await startLicensarioService(catalog, { timeoutMs: 10_000 });
  return { provider: service.provider, close: () => service.close() };
});

describeProviderContract("the server's in-process localProvider", async (catalog) => {
  const server: TollgateServer = await createServer({
    catalog,
    port: 0,
    credentials: [{ key: 'k', secret: 's' }],
  });
  return { provider: server.provider, close: () => server.close() };
});

describeProviderContract("core's memoryProvider", async (catalog) => {
  const provider = memoryProvider({ plans: catalog.plans });
  return { provider, close: async () => {} };
});
