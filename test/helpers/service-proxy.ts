/**
 * A real HTTP proxy in front of the real service, for fault tests: each request is forwarded,
 * answered in the proxy's place, or forwarded and then cut before the answer reaches the
 * client (the service did the work, the client never learns it).
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request. */
export type ProxyAction = 'forward' | 'cut' | { status: number; body: string };

export interface ServiceProxy {
  url: string;
  /** Requests seen, as `METHOD path` (query included), in order. */
  readonly seen: string[];
  close(): Promise<void>;
}

/**
 * Starts a proxy to `upstream`; `decide` picks the action per request.
 *
 * @example
 * const proxy = await startServiceProxy(service.url, (req) => (req.url?.endsWith('/batch') ? 'cut' : 'forward'));
 */
export async function startServiceProxy(
  upstream: string,
  decide: (req: IncomingMessage) => ProxyAction = () => 'forward',
): Promise<ServiceProxy> {
  const target = new URL(upstream);
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const action = decide(req);
    if (typeof action === 'object') {
      req.resume();
      res.writeHead(action.status, { 'content-type': 'application/json' });
      res.end(action.body);
      return;
    }
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
        // One upstream connection per request, so the service's close() has no idle socket to wait for.
        agent: false,
      },
      (answer: IncomingMessage) => {
        if (action === 'cut') {
          // Read the whole answer (the write is committed at the service), then drop it.
          answer.resume();
          answer.on('end', () => res.socket?.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
