/**
 * `pnpm start`: the upsell demo on the embedded service, in this one process.
 * Env: `PORT` (default 3000), `TOLLGATE_DATA_DIR` (keep the service's data there across
 * runs; default: in memory, so every start is the seeded state).
 * Stops cleanly on Ctrl-C (SIGINT) or SIGTERM: usage flushed, service closed, exit code 0.
 */
import { serve } from '@tollgate/example-shared';
import { startDemo } from './demo.js';

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number (0-65535); got "${process.env.PORT}".`);
  process.exit(1);
}
const dataDir = process.env.TOLLGATE_DATA_DIR || undefined;

let demo: Awaited<ReturnType<typeof startDemo>>;
try {
  demo = await startDemo({ port, dataDir });
} catch (error) {
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`Port ${port} is in use. Start the demo on another one: PORT=3001 pnpm start`);
  } else {
    console.error('The upsell demo failed to start:', error);
  }
  process.exit(1);
}

await serve(demo.server, {
  onStop: () => demo.close(),
  closing: 'flushing usage and closing the service…',
  banner: (url) => `
Tollgate upsell demo: ${url}
(entitlement service embedded in this process; data ${demo.dataDir === undefined ? 'in memory' : `in ${demo.dataDir}`})

Try this:
  1. Open ${url} and sign in as Carol (no licence), then open ${url}/reports
  2. You land on the upgrade page: click "Start free trial" and you are back on Reports, allowed
  3. Sign in as Alice and send SMS on ${url}/sms until they run out: the upgrade offer appears`,
});
