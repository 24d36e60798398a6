// One benchmark target in its own process: `node bench/app.mjs <variant> <serviceUrl>`.
// Prints nothing; tells bench/run.mjs its port over IPC once warm.
import http from 'node:http';
import { createRequire } from 'node:module';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { createTollgate, licensarioProvider } from '@tollgate/core';
import { createGates as expressGates } from '@tollgate/express';
import { createGates as koaGates } from '@tollgate/koa';
import { CREDENTIALS, licensedInMemory, METER_SUBJECTS, pool, SUBJECTS, subjectIds } from './common.mjs';
import { cachedCheckFloor, floorMiddleware } from './floor.mjs';
import { expressApp, koaApp } from './hello-apps.mjs';

const [variant, serviceUrl] = process.argv.slice(2);

const provider = () =>
  licensarioProvider({ baseUrl: serviceUrl, apiKey: CREDENTIALS.key, apiSecret: CREDENTIALS.secret });
// The undici the provider itself uses (a dependency of @tollgate/core, not of the bench).
const { Pool } = createRequire(import.meta.resolve('@tollgate/core'))('undici');
const subjectOf = (header) => (header ? { externalUserId: header } : undefined);

function tollgateFor(name) {
  if (name === 'express-require-memory') {
    // The same licences, held in process: the app never talks to the service.
    return createTollgate({
      provider: licensedInMemory(subjectIds()),
      cache: { max: 20_000, ttlMs: 3_600_000 },
    });
  }
  if (name === 'express-cold') {
    // One entry: with 10,000 subjects cycling, every request is a miss that reaches the service.
    return createTollgate({ provider: provider(), cache: { max: 1 } });
  }
  const mode = name === 'express-meter-sync' ? 'sync' : 'batched';
  return createTollgate({
    provider: provider(),
    // Longer than the whole benchmark: these rows measure cache hits, and a process is warmed
    // once when it starts (an expiry mid-run would turn the later rounds into misses).
    cache: { max: 20_000, ttlMs: 3_600_000 },
    meter: {
      mode,
      ...(process.env.BENCH_FLUSH_MS ? { flushIntervalMs: Number(process.env.BENCH_FLUSH_MS) } : {}),
    },
  });
}

async function warm(tollgate, name) {
  if (
    name === 'express-require' ||
    name === 'express-require-hot' ||
    name === 'express-require-memory' ||
    name === 'express-bare-engine' ||
    name === 'koa-require'
  ) {
    await pool(subjectIds(), 64, (id) => tollgate.check({ externalUserId: id }, 'reports'));
  }
  if (name === 'express-meter-batched') {
    await pool(subjectIds(METER_SUBJECTS), 64, (id) => tollgate.check({ externalUserId: id }, 'sms'));
  }
}

/**
 * With BENCH_GATE_TIME set, each request times the middleware under test inside the app: from
 * its call to its `next()` (the work before the handler), and its `close` listener, between
 * two listeners registered before and after it (Node calls them in order, in one emit). These
 * run with the app's own traffic around them, so caches are as cold as in production, which a
 * loop timing the gate alone (hot-path.mjs) does not show.
 */
const timing = process.env.BENCH_GATE_TIME ? { calls: [], closes: [], closeStart: 0 } : undefined;
const markClose = () => {
  timing.closeStart = performance.now();
};
const measureClose = () => {
  timing.closes.push(performance.now() - timing.closeStart);
};
const timedExpress = (gate) =>
  timing === undefined
    ? gate
    : (req, res, next) => {
        res.on('close', markClose);
        const start = performance.now();
        gate(req, res, (error) => {
          timing.calls.push(performance.now() - start);
          res.on('close', measureClose);
          next(error);
        });
      };
const timedKoa = (gate) =>
  timing === undefined
    ? gate
    : (ctx, next) => {
        ctx.res.on('close', markClose);
        const start = performance.now();
        return gate(ctx, () => {
          timing.calls.push(performance.now() - start);
          ctx.res.on('close', measureClose);
          return next();
        });
      };
const medianOf = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
// The mean is what adds up to CPU per request: the median leaves out the slow tail (a scavenge
// that starts inside the gate, a cold page).
const meanOf = (xs) => xs.reduce((sum, x) => sum + x, 0) / xs.length;

/**
 * What the cache-hit variants' warm-up does to a process, without Tollgate: the same 10,000
 * requests for the subjects' licences, 64 at a time, over a plain undici Pool (then closed).
 */
async function talkToService() {
  const client = new Pool(serviceUrl, { connections: 16 });
  const headers = {
    accept: 'application/json',
    ISV_API_KEY: CREDENTIALS.key,
    ISV_API_SECRET: CREDENTIALS.secret,
  };
  await pool(subjectIds(), 64, async (id) => {
    const response = await client.request({
      path: `/api/v1/users/external/${id}/licenses`,
      method: 'GET',
      headers,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`the service answered ${response.statusCode}: ${text}`);
    JSON.parse(text);
  });
  await client.close();
}

/**
 * Time spent in garbage collection (ms, from the 'gc' performance entries): scavenges of the
 * young generation apart from the rest (mark-compact, its incremental steps and weak callbacks).
 */
const gcTime = { minor: 0, other: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) gcTime.minor += entry.duration;
    else gcTime.other += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });

let handler;
let tollgate;
if (variant === 'express-bare-engine') {
  // The engine and cache of requireFeature's process, filled the same way, which the route
  // never calls: what the process pays for holding them, apart from the gate's own work.
  tollgate = tollgateFor(variant);
  await warm(tollgate, variant);
  handler = expressApp();
} else if (variant === 'express-bare-undici') {
  await talkToService();
  handler = expressApp();
} else if (variant === 'express-bare') handler = expressApp();
else if (variant === 'express-floor') handler = expressApp(timedExpress(floorMiddleware()));
else if (variant === 'express-noop') handler = expressApp(timedExpress((_req, _res, next) => next()));
else if (variant === 'express-check-floor')
  handler = expressApp(timedExpress(cachedCheckFloor(SUBJECTS, 'express')));
else if (variant === 'koa-check-floor') handler = koaApp(timedKoa(cachedCheckFloor(SUBJECTS, 'koa')));
else if (variant === 'koa-noop') handler = koaApp(timedKoa((_ctx, next) => next()));
else if (variant === 'koa-bare') handler = koaApp();
else {
  tollgate = tollgateFor(variant);
  if (variant.startsWith('koa')) {
    const gates = koaGates({ tollgate, subject: (ctx) => subjectOf(ctx.get('x-user')) });
    handler = koaApp(timedKoa(gates.requireFeature('reports')));
  } else {
    const gates = expressGates({ tollgate, subject: (req) => subjectOf(req.get('x-user')) });
    const gate = variant.startsWith('express-meter')
      ? gates.meter('sms', 1)
      : gates.requireFeature('reports');
    handler = expressApp(timedExpress(gate));
  }
  await warm(tollgate, variant);
}

const server = http.createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));

process.on('message', async (message) => {
  if (message === 'memory') process.send({ heapUsed: process.memoryUsage().heapUsed });
  if (message === 'drain') {
    await tollgate?.flush();
    process.send({ drained: true });
  }
  if (message === 'gate-time-reset') {
    timing.calls.length = 0;
    timing.closes.length = 0;
    process.send({ reset: true });
  }
  if (message === 'gate-time') {
    process.send({
      gateTime: {
        call: medianOf(timing.calls),
        callMean: meanOf(timing.calls),
        close: medianOf(timing.closes),
        closeMean: meanOf(timing.closes),
        count: timing.calls.length,
      },
    });
  }
  if (message === 'gc') process.send({ gcMs: { ...gcTime } });
  if (message === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send({ cpuMicros: user + system });
  }
  if (message === 'close') {
    server.close();
    server.closeAllConnections?.();
    await tollgate?.close();
    process.exit(0);
  }
});
