/**
 * The real Tollgate service on an ephemeral port, with a `licensarioProvider` pointed at it,
 * for tests that go through the HTTP client. Close it in teardown.
 */
import { type LicensarioProvider, type LicensarioProviderOptions, licensarioProvider } from '@tollgate/core';
import { type CatalogSource, createServer, type ServerOptions, type TollgateServer } from '@tollgate/server';

export const SERVICE_KEY = 'test-key';
export const SERVICE_SECRET = 'test-secret-5d1c9a';

export interface LicensarioService {
  server: TollgateServer;
  url: string;
  /** A provider with the right credentials (closed by `close()`). */
  provider: LicensarioProvider;
  /** Another provider on the same service (closed by `close()`), e.g. with wrong credentials. */
  client(options?: Partial<LicensarioProviderOptions>): LicensarioProvider;
  close(): Promise<void>;
}

/**
 * Starts the service (in-memory store) and a client for it.
 *
 * @example
 * const service = await startLicensarioService({ plans: [{ id: 'pro', name: 'Pro', features: { sms: 100 } }] });
 * await service.provider.createLicense({ externalUserId: 'u' }, 'pro');
 * await service.close();
 */
export async function startLicensarioService(
  catalog: CatalogSource,
  options: Partial<LicensarioProviderOptions> = {},
  serverOptions: Pick<ServerOptions, 'clock'> = {},
): Promise<LicensarioService> {
  const server = await createServer({
    ...serverOptions,
    catalog,
    port: 0,
    credentials: [{ key: SERVICE_KEY, secret: SERVICE_SECRET }],
  });
  const clients: LicensarioProvider[] = [];
  const client = (overrides: Partial<LicensarioProviderOptions> = {}) => {
    const provider = licensarioProvider({
      baseUrl: server.url,
      apiKey: SERVICE_KEY,
      apiSecret: SERVICE_SECRET,
      ...options,
      ...overrides,
    });
    clients.push(provider);
    return provider;
  };
  const provider = client();
  return {
    server,
    url: server.url,
    provider,
    client,
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    },
  };
}
