// The entitlement service in its own process: seeded with SUBJECTS licensed subjects, it
// answers the apps over loopback and reports its request counters to bench/run.mjs over IPC.
import { createServer } from '@tollgate/server';
import { CATALOG, CREDENTIALS, pool, subjectIds } from './common.mjs';

const server = await createServer({ catalog: CATALOG, port: 0, credentials: [CREDENTIALS] });
// Seeded in process (not over HTTP) so the counters only show what the apps ask.
const ids = subjectIds();
await pool(ids, 32, (id) => server.provider.ensureLicense({ externalUserId: id }, 'bench'));

process.on('message', (message) => {
  if (message === 'stats') process.send({ stats: server.stats.total });
  if (message === 'close') server.close().then(() => process.exit(0));
});
process.send({ ready: server.url });
