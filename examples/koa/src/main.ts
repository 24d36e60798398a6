/**
 * `pnpm start` in examples/koa: the example API on PORT (default 3002) over the embedded
 * entitlement service, or over a running one when TOLLGATE_URL, TOLLGATE_API_KEY and
 * TOLLGATE_API_SECRET are set. Ctrl-C flushes usage and exits 0.
 */
import { remoteFromEnv, serve, startBackend, tryTheApi } from '@tollgate/example-shared';
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3002);
const remote = remoteFromEnv();

const backend = await startBackend({ remote });
await serve(createApp({ tollgate: backend.tollgate }), {
  banner: (url) =>
    `Koa example: ${url} (entitlements: ${remote?.url ?? 'embedded service'})\n\n${tryTheApi(url)}`,
  port,
  onStop: () => backend.close(),
});
