/**
 * The whole demo in one process: the entitlement service embedded (its own port on loopback,
 * data in memory or in a directory), a Tollgate that talks to it over HTTP exactly as a production app
 * talks to a remote service, the demo users seeded, and the web app listening.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createTollgate, licensarioProvider, type Tollgate } from '@tollgate/core';
import { createServer } from '@tollgate/server';
import { createApp } from './app.js';
import { seedDemoUsers } from './demo-users.js';

/**
 * The catalog shared by the examples (examples/catalog.json): plans free / pro / team.
 *
 * @example
 * await startDemo({ catalog: CATALOG_PATH });
 */
export const CATALOG_PATH = fileURLToPath(new URL('../../catalog.json', import.meta.url));

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** Port of the web app; `0` picks a free one. @default 3000 */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /**
   * Where the service keeps its data (created if missing; kept across runs). Default: in
   * memory, gone on `close()`, so every start begins from the seeded demo state.
   */
  dataDir?: string | undefined;
  /** Plan catalog file. @default CATALOG_PATH */
  catalog?: string;
  /** Where the app reports unexpected errors. @default console */
  logger?: Pick<Console, 'error'>;
}

/** A running demo. */
export interface RunningDemo {
  /** The web app, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** The embedded service's root (Licensario REST API). */
  serviceUrl: string;
  /** Where the service keeps its data; `undefined` = in memory. */
  dataDir: string | undefined;
  tollgate: Tollgate;
  /** Stop taking requests, flush usage, close the service. */
  close(): Promise<void>;
}

/**
 * Starts the service, seeds the demo users and serves the app.
 *
 * @example
 * const demo = await startDemo({ port: 0 });
 * console.log(demo.url);
 * await demo.close();
 */
export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = options.dataDir;
  // Fresh credentials per start: only this process knows them, so nothing else on the
  // machine can talk to the embedded service. They are never printed.
  const credentials = {
    key: `demo-${randomBytes(8).toString('hex')}`,
    secret: randomBytes(24).toString('hex'),
  };
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step();
  };
  try {
    const service = await createServer({
      catalog: options.catalog ?? CATALOG_PATH,
      port: 0,
      host: '127.0.0.1',
      ...(dataDir === undefined ? {} : { dataDir }),
      credentials: [credentials],
    });
    cleanups.push(() => service.close());
    const tollgate = createTollgate({
      provider: licensarioProvider({
        baseUrl: service.url,
        apiKey: credentials.key,
        apiSecret: credentials.secret,
      }),
      // One atomic decrement per SMS: the balance the page shows is the service's, exactly.
      meter: { mode: 'sync' },
    });
    cleanups.push(async () => {
      await tollgate.close();
      await tollgate.provider.close?.();
    });
    await seedDemoUsers(tollgate.provider);

    const app = createApp({ tollgate, ...(options.logger === undefined ? {} : { logger: options.logger }) });
    const server: Server = app.listen(options.port ?? 3000, host);
    await once(server, 'listening');
    cleanups.push(() => closeHttpServer(server));
    const { port } = server.address() as AddressInfo;
    const shownHost = host.includes(':') ? `[${host}]` : host;

    let closing: Promise<void> | undefined;
    return {
      url: `http://${shownHost}:${port}`,
      serviceUrl: service.url,
      dataDir,
      tollgate,
      close: () => {
        closing ??= cleanup();
        return closing;
      },
    };
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

/** Stops accepting connections and ends idle keep-alive ones, so close() does not hang. */
async function closeHttpServer(server: Server): Promise<void> {
  const closed = once(server, 'close');
  server.close();
  server.closeIdleConnections();
  await closed;
}
