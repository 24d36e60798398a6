/**
 * `pnpm start` in examples/koa: the example API on PORT (default 3002) over the embedded
 * entitlement service, or over a running one when TOLLGATE_URL, TOLLGATE_API_KEY and
 * TOLLGATE_API_SECRET are set. Ctrl-C flushes usage and exits 0.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { startBackend } from './service.js';

const port = Number(process.env.PORT ?? 3002);
const { TOLLGATE_URL, TOLLGATE_API_KEY = '', TOLLGATE_API_SECRET = '' } = process.env;
const remote = TOLLGATE_URL
  ? { url: TOLLGATE_URL, apiKey: TOLLGATE_API_KEY, apiSecret: TOLLGATE_API_SECRET }
  : undefined;

const backend = await startBackend({ remote });
const server = createApp({ tollgate: backend.tollgate }).listen(port, '127.0.0.1');
await once(server, 'listening');
const url = `http://localhost:${(server.address() as AddressInfo).port}`;

console.log(`Koa example: ${url} (entitlements: ${remote ? TOLLGATE_URL : 'embedded service'})

Try this (alice: free, bob: pro, carol: team):
  curl -i ${url}/export -H 'X-User-Id: alice'          # 403 not licensed (free has no export)
  curl -i ${url}/export -H 'X-User-Id: bob'            # 200
  curl -i -X POST ${url}/sms -H 'X-User-Id: alice'     # 200, one SMS used
  curl -i ${url}/team/reports -H 'X-User-Id: bob'      # 403: needs the team plan
  curl -i ${url}/team/reports -H 'X-User-Id: carol'    # 200

Press Ctrl-C to stop.`);

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal} received: flushing usage and closing…`);
  try {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await backend.close();
    console.log('Stopped.');
    process.exit(0);
  } catch (error) {
    console.error('Could not stop cleanly:', error);
    process.exit(1);
  }
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
