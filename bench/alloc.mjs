// Bytes allocated per gated request, in process: a figure that, unlike CPU time, does not move
// with a noisy machine. Run with a young generation large enough that no scavenge happens
// during a measurement (bench/run.mjs starts it with --max-semi-space-size), so the growth of
// heapUsed over N calls is what N calls allocated. Prints one JSON line.
import { createTollgate, memoryProvider } from '@tollgate/core';
import { createGates as expressGates } from '@tollgate/express';
import { createGates as koaGates } from '@tollgate/koa';
import { SUBJECTS, subjectName } from './common.mjs';

const CALLS = 20_000;
const ids = Array.from({ length: SUBJECTS }, (_, i) => subjectName(i));
// The in-memory provider: this measures the gates and the engine, not the wire.
const provider = memoryProvider({
  plans: [{ id: 'bench', name: 'Bench', features: { reports: true, sms: 1_000_000_000 } }],
  licenses: ids.map((id) => ({ subject: { externalUserId: id }, planId: 'bench' })),
});
const tollgate = createTollgate({
  provider,
  cache: { max: 20_000, ttlMs: 600_000 },
  // No flush during a measurement: only the request path is counted.
  meter: { flushIntervalMs: 600_000, maxBatchSize: 1e12 },
});
await Promise.all(ids.map((id) => tollgate.check({ externalUserId: id }, 'reports')));
await Promise.all(ids.map((id) => tollgate.check({ externalUserId: id }, 'sms')));

const subject = (source) => ({ externalUserId: source.user });
const express = expressGates({ tollgate, subject });
const koa = koaGates({ tollgate, subject });
const expressRequire = express.requireFeature('reports');
const expressMeter = express.meter('sms', 1);
const koaRequire = koa.requireFeature('reports');
const next = () => undefined;
// Header values arrive as new strings on every request.
const users = ids.map((id) => Buffer.from(id));
const user = (i) => users[i % users.length].toString('latin1');

/** The parts of a response the gates touch; `close` is fired by hand to settle. */
class Response {
  locals = {};
  destroyed = false;
  writableFinished = true;
  statusCode = 200;
  onClose = undefined;
  on(_event, listener) {
    this.onClose = listener;
  }
  setHeader() {}
}

// Each case against a baseline that builds the same request objects and calls nothing.
const cases = {
  'express-baseline': (i) => next({ user: user(i) }, new Response()),
  'koa-baseline': (i) => next({ user: user(i), state: {} }),
  'express-require': (i) => expressRequire({ user: user(i) }, new Response(), next),
  'koa-require': (i) => koaRequire({ user: user(i), state: {} }, next),
  'express-meter-batched': (i) => {
    const res = new Response();
    expressMeter({ user: user(i) }, res, next);
    res.onClose();
  },
};

const bytesPerCall = {};
for (const [name, call] of Object.entries(cases)) {
  for (let i = 0; i < CALLS; i++) call(i); // warm up (JIT)
  const samples = [];
  for (let round = 0; round < 5; round++) {
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < CALLS; i++) call(i);
    samples.push((process.memoryUsage().heapUsed - before) / CALLS);
  }
  samples.sort((a, b) => a - b);
  bytesPerCall[name] = samples[2];
}
await tollgate.close();
const overBaseline = Object.fromEntries(
  Object.entries(bytesPerCall)
    .filter(([name]) => !name.endsWith('-baseline'))
    .map(([name, bytes]) => {
      const base = bytesPerCall[name.startsWith('koa') ? 'koa-baseline' : 'express-baseline'];
      return [name, Math.round(bytes - base)];
    }),
);
process.stdout.write(`${JSON.stringify(overBaseline)}\n`);
