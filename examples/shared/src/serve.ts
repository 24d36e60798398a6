/**
 * The tail of every example's start command: listen, print where to go, and on Ctrl-C
 * (SIGINT) or SIGTERM stop taking requests, let the example flush and close its backend,
 * print `Stopped.` and exit 0 (1 if closing failed).
 */
import { once } from 'node:events';
import { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Anything that listens like an Express or Koa app: `listen(port, host)` returns the server. */
export interface Listenable {
  listen(port: number, host: string): Server;
}

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Port to listen on; `0` picks a free one. Ignored for a server that already listens. @default 0 */
  port?: number;
  /** Interface to listen on. Ignored for a server that already listens. @default '127.0.0.1' */
  host?: string;
  /** What to print once listening, given the URL to open; "Press Ctrl-C to stop." follows it. */
  banner: (url: string) => string;
  /** Flush and close whatever the app runs on; called after the server has stopped. */
  onStop: () => Promise<void>;
  /** What the stop line says after "SIGINT received: ". @default 'flushing usage and closing…' */
  closing?: string;
}

/** A served example. */
export interface Served {
  /** Where it answers, as printed: `http://localhost:<port>` on a loopback interface. */
  url: string;
  server: Server;
}

/**
 * Serves an app (or an existing HTTP server), prints its banner and stops cleanly on SIGINT
 * and SIGTERM. For start commands only: it installs process signal handlers and exits the
 * process when stopped.
 *
 * @example
 * const backend = await startBackend();
 * await serve(createApp({ tollgate: backend.tollgate }), {
 *   port: 3001,
 *   banner: (url) => `My example: ${url}`,
 *   onStop: () => backend.close(),
 * });
 */
export async function serve(target: Listenable | Server, options: ServeOptions): Promise<Served> {
  const port = options.port ?? 0;
  const host = options.host ?? '127.0.0.1';
  let server: Server;
  if (target instanceof Server) {
    server = target;
    if (!server.listening) server.listen(port, host);
  } else {
    server = target.listen(port, host);
  }
  if (!server.listening) await once(server, 'listening');
  const url = urlOf(server.address() as AddressInfo);

  console.log(`${options.banner(url)}\n\nPress Ctrl-C to stop.`);

  let stopping = false;
  async function stop(signal: NodeJS.Signals): Promise<void> {
    // A second Ctrl-C while closing must not start a second close.
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal} received: ${options.closing ?? 'flushing usage and closing…'}`);
    try {
      await closeServer(server);
      await options.onStop();
      console.log('Stopped.');
      process.exit(0);
    } catch (error) {
      console.error('Could not stop cleanly:', error);
      process.exit(1);
    }
  }
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return { url, server };
}

const closings = new WeakMap<Server, Promise<void>>();

/**
 * Stops accepting connections, ends idle keep-alive ones (so closing does not wait for a
 * browser to drop them) and resolves once the server has closed. Calling it again, or on a
 * server that is not listening, does not close twice: a second `close()` would never see the
 * `close` event and hang.
 *
 * @example
 * await closeServer(server);
 */
export function closeServer(server: Server): Promise<void> {
  let closing = closings.get(server);
  if (closing === undefined) {
    closing = server.listening ? closeNow(server) : Promise.resolve();
    closings.set(server, closing);
  }
  return closing;
}

async function closeNow(server: Server): Promise<void> {
  const closed = once(server, 'close');
  server.close();
  server.closeIdleConnections();
  await closed;
}

/** Loopback and "any" addresses are shown as `localhost`, the name people type. */
function urlOf({ address, port }: AddressInfo): string {
  const local = ['127.0.0.1', '::1', '0.0.0.0', '::'].includes(address);
  const host = local ? 'localhost' : address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}`;
}
