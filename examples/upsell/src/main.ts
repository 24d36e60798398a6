/**
 * `pnpm start`: the upsell demo on the embedded service, in this one process.
 * Env: `PORT` (default 3000), `TOLLGATE_DATA_DIR` (keep the service's data there across
 * runs; default: in memory, so every start is the seeded state).
 * Stops cleanly on Ctrl-C (SIGINT) or SIGTERM: usage flushed, service closed, exit code 0.
 */
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

const url = demo.url.replace('127.0.0.1', 'localhost');
console.log(`
Tollgate upsell demo: ${url}
(entitlement service embedded in this process; data ${demo.dataDir === undefined ? 'in memory' : `in ${demo.dataDir}`})

Try this:
  1. Open ${url} and sign in as Carol (no licence), then open ${url}/reports
  2. You land on the upgrade page: click "Start free trial" and you are back on Reports, allowed
  3. Sign in as Alice and send SMS on ${url}/sms until they run out: the upgrade offer appears

Press Ctrl-C to stop.`);

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal} received: flushing usage and closing the service…`);
  try {
    await demo.close();
    console.log('Stopped.');
    process.exit(0);
  } catch (error) {
    console.error('Could not stop cleanly:', error);
    process.exit(1);
  }
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
