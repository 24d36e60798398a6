// Where a gate's cost goes inside a busy Express (or Koa) app, to about a microsecond:
// `node bench/span.mjs bare floor meter@/tmp/base meter@/tmp/candidate`.
//
// Every variant is its own app in this one process; the load generator (a separate process,
// bench/span-load.mjs) sends each connection's requests to the variants in turn, so all of
// them run under the same load, caches and machine drift, request by request. For each
// request the server times its handling: from Node's `request` event until the app returns
// (Express) or until the promise its handler returns settles (Koa, which writes the response
// in a continuation of it), which for these routes covers the gate, the handler and writing
// the response. Reported: the median per variant per round, and its difference from `bare`.
//
// Why not throughput: on a shared 2-core VM two runs of the same code differ by ±10 µs per
// request, and a gate's parts cost a few. Why not time the gate alone: a gate that touches the
// response first pays costs that the framework would pay later anyway (see the gate timing in
// run.mjs); the whole span counts each once.
//
// Positions are not neutral (requests to neighbouring variants measured ~2.5 µs apart with the
// same code), so the variants are mounted twice, in mirrored order (A B C C B A), and each
// figure is the mean of its two mounts. Nor is the order in which the variants are created:
// with two copies of one checkout (`meter@/tmp/a meter@/tmp/b`), the one listed second read
// 2–2.9 µs more in every round, in both orders, over six runs. So every measurement runs twice,
// in two processes, the variants after `bare` in the order given and then reversed, and the
// figure reported is the mean of the two. Even so, trust differences of a few µs, and repeat
// for smaller ones. Compare a candidate with a copy of the base (`meter@/tmp/base
// meter@/tmp/candidate`), not with this tree: the variants of this tree share their modules
// with the tool itself.
// Costs do not add up either: two operations that each cost ~0.5 µs alone can cost several
// together, after the gate's other work (cold caches). Not part of `pnpm bench`: a tool for
// investigating.
//
// Variants: `bare`, `noop` (a middleware that only calls next()), `floor` (bench/floor.mjs's
// hand-written counter; Express only), `check-floor` (its hand-written cached check), `meter`
// (meter('sms', 1), batched), `require` (requireFeature('reports')), each optionally
// `@<checkout>`: a checkout of this repo whose packages are built (`cp -a` of this tree,
// changed and rebuilt), to compare a candidate change with a copy of the current code in one
// run. Env: SPAN_FRAMEWORK (`express`, the default, or `koa`), SPAN_SECONDS (per round,
// default 5), SPAN_ROUNDS (default 3), SPAN_SUBJECTS (the subjects the requests cycle through,
// default 100). `pnpm bench` cycles 10,000 for its cache
// hits: then each lookup meets memory the framework's work has evicted, and a cached check
// costs several µs more than with 100 (Koa, app CPU: ~+5 µs over bare against ~+2 in this
// tool's span with 100), so measure cache-hit changes with SPAN_SUBJECTS=10000 too.
import { execFileSync, fork, spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CREDENTIALS, METER_SUBJECTS, pool, subjectIds } from './common.mjs';
import { cachedCheckFloor, floorMiddleware } from './floor.mjs';
import { expressApp, koaApp } from './hello-apps.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const seconds = Number(process.env.SPAN_SECONDS ?? 5);
const rounds = Number(process.env.SPAN_ROUNDS ?? 3);
const koa = process.env.SPAN_FRAMEWORK === 'koa';
const subjects = Number(process.env.SPAN_SUBJECTS ?? METER_SUBJECTS);
if (!koa && (process.env.SPAN_FRAMEWORK ?? 'express') !== 'express')
  throw new Error('SPAN_FRAMEWORK is express (the default) or koa');
const asked = process.argv.slice(2);
if (asked.length === 0)
  throw new Error('usage: node bench/span.mjs bare meter [require@/path/to/checkout] ...');
const names = asked.includes('bare') ? asked : ['bare', ...asked];
const mounts = [...names, ...[...names].reverse()];

if (process.env.SPAN_CHILD === undefined) {
  // The parent: one measuring process per order of the variants (see above).
  const others = names.filter((n) => n !== 'bare');
  const orders = [
    ['bare', ...others],
    ['bare', ...[...others].reverse()],
  ];
  const runs = [];
  for (const order of orders) {
    process.stdout.write(`order: ${order.join(' ')}\n`);
    const measuring = fork(fileURLToPath(import.meta.url), order, {
      env: { ...process.env, SPAN_CHILD: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    runs.push(
      await new Promise((resolve, reject) => {
        measuring.once('message', resolve);
        measuring.once('exit', (code) => code !== 0 && reject(new Error(`span run exited with ${code}`)));
      }),
    );
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cells = names.map((n) => {
    const each = runs.map((run) => mean(run[n]));
    return `${n} ${mean(each).toFixed(2)} (${each.map((x) => x.toFixed(2)).join(', ')})`;
  });
  process.stdout.write(
    `mean over both orders and all rounds, µs (each order's in parentheses), span of bare or excess over it: ${cells.join(' | ')}\n`,
  );
  process.exit(0);
}

// The apps on one core, the service and the load generator on the other (as run.mjs does).
const canPin = spawnSync('taskset', ['-V']).status === 0;
const pin = (pid, cpu) => {
  if (canPin) execFileSync('taskset', ['-a', '-c', '-p', cpu, String(pid)], { stdio: 'ignore' });
};
pin(process.pid, '1');
const child = (file, args) => {
  const c = fork(path.join(here, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  pin(c.pid, '0');
  return c;
};
const service = child('service.mjs', []);
const serviceUrl = await new Promise((resolve) => service.on('message', (m) => m.ready && resolve(m.ready)));

const engines = [];
async function gateFor(name) {
  const [kind, checkout = path.join(here, '..')] = name.split('@');
  if (kind === 'bare') return undefined;
  if (kind === 'noop') return koa ? (_ctx, next) => next() : (_req, _res, next) => next();
  if (kind === 'floor' && !koa) return floorMiddleware();
  if (kind === 'check-floor') return cachedCheckFloor(subjects, koa ? 'koa' : 'express');
  if (kind !== 'meter' && kind !== 'require') throw new Error(`unknown variant ${name}`);
  const core = await import(path.join(checkout, 'packages/core/dist/esm/index.js'));
  const adapter = koa ? 'packages/koa/dist/esm/index.js' : 'packages/express/dist/esm/index.js';
  const { createGates } = await import(path.join(checkout, adapter));
  const tollgate = core.createTollgate({
    provider: core.licensarioProvider({
      baseUrl: serviceUrl,
      apiKey: CREDENTIALS.key,
      apiSecret: CREDENTIALS.secret,
    }),
    cache: { max: 20_000, ttlMs: 3_600_000 },
  });
  engines.push(tollgate);
  // 64 at a time, as bench/app.mjs warms: one by one, 10,000 subjects took ~18 s per variant.
  const ids = subjectIds(subjects);
  await pool(ids, 64, (id) => tollgate.check({ externalUserId: id }, kind === 'meter' ? 'sms' : 'reports'));
  const gates = createGates({
    tollgate,
    // As bench/app.mjs: `req.get` on Express, `ctx.get` on Koa.
    subject: (source) => {
      const user = source.get('x-user');
      return user ? { externalUserId: user } : undefined;
    },
  });
  return kind === 'meter' ? gates.meter('sms', 1) : gates.requireFeature('reports');
}

const apps = [];
const index = new Map();
for (const [i, name] of mounts.entries()) {
  const gate = await gateFor(name);
  const route = `/v${i}`;
  apps.push(koa ? koaApp(gate) : expressApp(gate, route));
  index.set(route, i);
}

const spans = mounts.map(() => []);
const server = http.createServer((req, res) => {
  const i = index.get(req.url);
  const start = performance.now();
  const handled = apps[i](req, res);
  // Koa answers in a continuation of the promise its handler returns (run as a microtask,
  // before the next request): its span ends when that promise settles.
  if (koa) handled.then(() => spans[i].push(performance.now() - start));
  else spans[i].push(performance.now() - start);
});
server.keepAliveTimeout = 60_000;
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const load = (duration) =>
  new Promise((resolve) => {
    const routes = mounts.map((_, i) => `/v${i}`).join(',');
    child('span-load.mjs', [String(server.address().port), String(duration), routes, String(subjects)]).once(
      'message',
      resolve,
    );
  });

const medianMicros = (xs) => Float64Array.from(xs).sort()[xs.length >> 1] * 1000;
/** Per variant, each round's figure: bare's span, or another variant's excess over it. */
const figures = Object.fromEntries(names.map((n) => [n, []]));
await load(2); // warm-up: JIT, caches, the engines' first flushes
for (let r = 1; r <= rounds; r++) {
  for (const s of spans) s.length = 0;
  const { total } = await load(seconds);
  const of = (name) => {
    const a = mounts.indexOf(name);
    const b = mounts.lastIndexOf(name);
    return (medianMicros(spans[a]) + medianMicros(spans[b])) / 2;
  };
  const bare = of('bare');
  for (const n of names) figures[n].push(n === 'bare' ? bare : of(n) - bare);
  const cells = names.map((n) =>
    n === 'bare' ? `bare ${bare.toFixed(2)}` : `${n} ${(of(n) - bare).toFixed(2)}`,
  );
  process.stdout.write(
    `round ${r} (${total} requests), µs, median span (bare) or its excess over bare: ${cells.join(' | ')}\n`,
  );
}
process.send(figures);
for (const tollgate of engines) await tollgate.close();
service.send('close');
server.closeAllConnections();
server.close();
setTimeout(() => process.exit(0), 200).unref();
