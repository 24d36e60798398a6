/**
 * The whole demo in one process: the examples' backend (examples/shared: the entitlement
 * service embedded on its own loopback port, data in memory or in a directory, and a Tollgate
 * that talks to it over HTTP exactly as a production app talks to a remote service), the
 * upsell demo's users seeded, and the web app listening.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Tollgate } from '@tollgate/core';
import { closeServer, startBackend } from '@tollgate/example-shared';
import { createApp } from './app.js';
import { seedDemoUsers } from './demo-users.js';

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
  /** Plan catalog file. @default CATALOG_PATH of @tollgate/example-shared (examples/catalog.json) */
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
  /** The web app's HTTP server (listening). */
  server: Server;
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
  const backend = await startBackend({
    dataDir,
    ...(options.catalog === undefined ? {} : { catalog: options.catalog }),
    // One atomic decrement per SMS: the balance the page shows is the service's, exactly.
    tollgate: { meter: { mode: 'sync' } },
    seed: seedDemoUsers,
  });
  try {
    const { tollgate } = backend;
    const app = createApp({ tollgate, ...(options.logger === undefined ? {} : { logger: options.logger }) });
    const server: Server = app.listen(options.port ?? 3000, host);
    // A failed listen (port in use) leaves nothing to close but the backend.
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const shownHost = host.includes(':') ? `[${host}]` : host;

    let closing: Promise<void> | undefined;
    return {
      url: `http://${shownHost}:${port}`,
      serviceUrl: backend.serviceUrl,
      dataDir,
      tollgate,
      server,
      close: () => {
        closing ??= closeServer(server).then(() => backend.close());
        return closing;
      },
    };
  } catch (error) {
    await backend.close().catch(() => {});
    throw error;
  }
}
