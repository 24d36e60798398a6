/**
 * The gate behaviour table (test/helpers/gates-cases.ts) on Koa 3 and Koa 2, through
 * `@tollgate/koa`, against the real service.
 */
import { createRequire } from 'node:module';
import { createGates, type OnDenied, upsellRedirect } from '@tollgate/koa';
import Koa3 from 'koa';
import type { GateCase } from './helpers/gates-cases.js';
import { type FrameworkDriver, handlerBody, runGateTable, SUBJECT_HEADER } from './helpers/gates-table.js';

// The `koa2` alias (npm:koa@^2) runs the same table on the previous major.
const Koa2 = createRequire(import.meta.url)('koa2') as typeof Koa3;

function onDeniedFor(gateCase: GateCase): OnDenied | undefined {
  if (gateCase.onDenied === 'upsell') return upsellRedirect({ to: '/pricing' });
  if (gateCase.onDenied === 'upsell-next') {
    return upsellRedirect({ to: '/pricing', returnTo: (ctx) => String(ctx.query.next) });
  }
  return undefined;
}

function koaDriver(name: string, Koa: typeof Koa3): FrameworkDriver {
  return {
    name,
    build({ gateCase, tollgate, signals }) {
      const onDenied = onDeniedFor(gateCase);
      const gates = createGates({
        tollgate,
        subject: (ctx) => {
          const id = ctx.get(SUBJECT_HEADER);
          return id ? { externalUserId: id } : undefined;
        },
        ...(onDenied ? { onDenied } : {}),
      });
      const app = new Koa();
      app.silent = true; // the thrown-error case must not print to stderr
      for (const gate of gateCase.gates) {
        app.use(
          gate.kind === 'require'
            ? gates.requireFeature(gate.featureId, gate.planId)
            : gates.meter(
                gate.featureId,
                gate.amount === 'query' ? (ctx) => Number(ctx.query.amount) : gate.amount,
                {
                  ...(gate.chargeOn ? { chargeOn: gate.chargeOn } : {}),
                  ...(gate.planId ? { planId: gate.planId } : {}),
                },
              ),
        );
      }
      app.use(async (ctx) => {
        const spec = gateCase.handler ?? { kind: 'respond', status: 200 };
        if (spec.kind === 'throw') throw new Error('handler failed');
        if (spec.kind === 'hang') {
          const closed = new Promise<void>((resolve) => ctx.res.once('close', () => resolve()));
          signals.handlerStarted();
          await closed;
          signals.handlerSawClose();
          return;
        }
        ctx.status = spec.status;
        ctx.body = handlerBody(ctx.state.tollgate?.decisions);
      });
      return app.callback();
    },
  };
}

runGateTable(koaDriver('Koa 3', Koa3));
runGateTable(koaDriver('Koa 3', Koa3), { meterMode: 'sync' });
runGateTable(koaDriver('Koa 3', Koa3), { warmCache: true });
runGateTable(koaDriver('Koa 2', Koa2));
