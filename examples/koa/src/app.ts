/**
 * The Koa example: the same small API as examples/express, with the three kinds of gate.
 *
 * - `GET /export` needs the boolean feature `export` (any plan granting it: pro or team)
 * - `POST /sms` is metered: each call uses 1 unit of `sms`, charged only if it succeeds
 * - `GET /team/reports` needs `reports` on the `team` plan specifically
 *
 * The caller is named by the `X-User-Id` header: a stand-in for your own authentication
 * (in a real app, `subject` reads `ctx.state.user` set by your auth middleware).
 */
import { Router } from '@koa/router';
import type { Tollgate } from '@tollgate/core';
import { createGates } from '@tollgate/koa';
import Koa from 'koa';

/** Options of {@link createApp}. */
export interface ExampleAppOptions {
  tollgate: Tollgate;
}

/**
 * Builds the example API. It does not listen: call `app.listen(port)`.
 *
 * @example
 * const app = createApp({ tollgate });
 * app.listen(3002);
 */
export function createApp({ tollgate }: ExampleAppOptions): Koa {
  const { requireFeature, meter } = createGates({
    tollgate,
    subject: (ctx) => {
      const userId = ctx.get('x-user-id');
      return userId ? { externalUserId: userId } : undefined;
    },
  });

  const router = new Router();

  router.get('/', (ctx) => {
    ctx.body = {
      routes: ['GET /export', 'POST /sms', 'GET /team/reports'],
      identify: 'X-User-Id: alice | bob | carol',
    };
  });

  router.get('/export', requireFeature('export'), (ctx) => {
    ctx.body = { export: 'signups.csv', rows: 301, plan: ctx.state.tollgate?.decision.planId };
  });

  router.post('/sms', meter('sms', 1), (ctx) => {
    // Sending the SMS would happen here. The unit is charged once this answers < 400.
    ctx.body = { sent: true, remaining: ctx.state.tollgate?.decisions.sms?.remaining };
  });

  router.get('/team/reports', requireFeature('reports', 'team'), (ctx) => {
    ctx.body = { report: 'team activity', members: 4 };
  });

  const app = new Koa();
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}
