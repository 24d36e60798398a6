// What a gate costs per call, in process, against a baseline that builds the same request
// objects and calls nothing: `node bench/hot-path.mjs bytes|time`. Prints one JSON line of
// { case: figure over its baseline }.
//
// - `bytes`: bytes allocated per call, a figure that does not move with a noisy machine. Run
//   with a young generation large enough that no scavenge happens during a measurement
//   (--max-semi-space-size=256, as bench/run.mjs does), so the growth of heapUsed over N calls
//   is what N calls allocated.
// - `time`: nanoseconds per call, garbage collection included, each round timing a case and
//   its baseline back to back. A floor for the gate's cost inside a real app, which
//   bench/run.mjs measures: where the app figure is much larger, the difference is not in the
//   gate's own code.
import { createTollgate } from '@tollgate/core';
import { createGates as expressGates } from '@tollgate/express';
import { createGates as koaGates } from '@tollgate/koa';
import { licensedInMemory, subjectIds } from './common.mjs';

const mode = process.argv[2];
if (mode !== 'bytes' && mode !== 'time') throw new Error('usage: node bench/hot-path.mjs bytes|time');

const ids = subjectIds();
// The in-memory provider: this measures the gates and the engine, not the wire.
const provider = licensedInMemory(ids);
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

const baselines = {
  express: (i) => next({ user: user(i) }, new Response()),
  koa: (i) => next({ user: user(i), state: {} }),
};
const cases = {
  'express-require': {
    base: 'express',
    call: (i) => expressRequire({ user: user(i) }, new Response(), next),
  },
  'koa-require': { base: 'koa', call: (i) => koaRequire({ user: user(i), state: {} }, next) },
  'express-meter-batched': {
    base: 'express',
    call: (i) => {
      const res = new Response();
      expressMeter({ user: user(i) }, res, next);
      res.onClose();
    },
  },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Bytes per call: heap growth over `calls` calls with no scavenge in between. */
function bytesPerCall(call, calls = 20_000) {
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < calls; i++) call(i);
  return (process.memoryUsage().heapUsed - before) / calls;
}

/** Nanoseconds per call over `calls` calls. */
function nsPerCall(call, calls = 200_000) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) call(i);
  return Number(process.hrtime.bigint() - start) / calls;
}

const measure = mode === 'bytes' ? bytesPerCall : nsPerCall;
const result = {};
for (const [name, { base, call }] of Object.entries(cases)) {
  const baseline = baselines[base];
  for (let i = 0; i < 50_000; i++) {
    call(i); // warm up (JIT)
    baseline(i);
  }
  const over = [];
  for (let round = 0; round < 7; round++) {
    // Back to back, the baseline first every other round, so drift hits both.
    const baseFirst = round % 2 === 0;
    const first = measure(baseFirst ? baseline : call);
    const second = measure(baseFirst ? call : baseline);
    over.push(baseFirst ? second - first : first - second);
  }
  result[name] = Math.round(median(over));
}
await tollgate.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
