// Measurements that need no load generator: run by bench/run.mjs as
// `node --expose-gc bench/extra.mjs` and printed as one JSON line.
import { createTollgate, licensarioProvider } from '@tollgate/core';
import { createServer } from '@tollgate/server';
import { CATALOG, CREDENTIALS, licensedInMemory, pool, subjectIds, subjectName } from './common.mjs';

const SECONDS = Number(process.env.BENCH_EXTRA_SECONDS ?? 3);

/** Heap held by 100,000 cached decisions (boolean feature, distinct subjects). */
async function heapOfCachedDecisions(count = 100_000) {
  const ids = subjectIds(count);
  const provider = licensedInMemory(ids);
  const tollgate = createTollgate({ provider, cache: { max: count, ttlMs: 600_000 } });
  const subjects = ids.map((id) => ({ externalUserId: id }));
  global.gc();
  const before = process.memoryUsage().heapUsed;
  await pool(subjects, 256, (subject) => tollgate.check(subject, 'reports'));
  global.gc();
  const after = process.memoryUsage().heapUsed;
  const cached = subjects.filter((s) => tollgate.checkCached(s, 'reports')?.allowed === true).length;
  await tollgate.close();
  return { count, cached, bytes: after - before };
}

/** N concurrent checks of each of K cold keys: how many requests reach the service. */
async function coldKeyCoalescing(server, keys = 100, perKey = 50) {
  const tollgate = createTollgate({
    provider: licensarioProvider({
      baseUrl: server.url,
      apiKey: CREDENTIALS.key,
      apiSecret: CREDENTIALS.secret,
    }),
  });
  const before = server.stats.total;
  const calls = [];
  for (let k = 0; k < keys; k++) {
    for (let n = 0; n < perKey; n++)
      calls.push(tollgate.check({ externalUserId: subjectName(k) }, 'reports'));
  }
  const decisions = await Promise.all(calls);
  const requests = server.stats.total - before;
  await tollgate.close();
  return { keys, perKey, checks: calls.length, allowed: decisions.filter((d) => d.allowed).length, requests };
}

/** Latency of a cache miss answered by the service over loopback, one at a time (no queueing). */
async function missLatency(server, count = 1000) {
  const tollgate = createTollgate({
    provider: licensarioProvider({
      baseUrl: server.url,
      apiKey: CREDENTIALS.key,
      apiSecret: CREDENTIALS.secret,
    }),
    cache: { max: 1 },
  });
  const micros = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    await tollgate.check({ externalUserId: subjectName(i % 100) }, 'reports');
    micros.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  await tollgate.close();
  micros.sort((a, b) => a - b);
  return { count, p50: micros[count >> 1] / 1000, p99: micros[Math.floor(count * 0.99)] / 1000 };
}

/** Sync-mode authreps of 1 unit per second, 32 in flight, against one provider. */
async function syncAuthrepRate(provider, subjects) {
  const tollgate = createTollgate({ provider, meter: { mode: 'sync' } });
  const deadline = performance.now() + SECONDS * 1000;
  let ops = 0;
  let denied = 0;
  const worker = async (w) => {
    while (performance.now() < deadline) {
      const d = await tollgate.authrep({ externalUserId: subjects[(ops + w) % subjects.length] }, { sms: 1 });
      if (d.allowed) ops++;
      else denied++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: 32 }, (_, w) => worker(w)));
  const seconds = (performance.now() - started) / 1000;
  await tollgate.close();
  return { opsPerSecond: Math.round(ops / seconds), denied };
}

const server = await createServer({ catalog: CATALOG, port: 0, credentials: [CREDENTIALS] });
const subjects = subjectIds(100);
await pool(subjects, 16, (id) => server.provider.ensureLicense({ externalUserId: id }, 'bench'));

const result = {
  heap: await heapOfCachedDecisions(),
  coalescing: await coldKeyCoalescing(server),
  miss: await missLatency(server),
  syncInProcess: await syncAuthrepRate(server.provider, subjects),
  syncOverHttp: await syncAuthrepRate(
    licensarioProvider({ baseUrl: server.url, apiKey: CREDENTIALS.key, apiSecret: CREDENTIALS.secret }),
    subjects,
  ),
};
await server.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
