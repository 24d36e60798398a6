/**
 * The Express example: one small API with the three kinds of gate.
 *
 * - `GET /export` needs the boolean feature `export` (any plan granting it: pro or team)
 * - `POST /sms` is metered: each call uses 1 unit of `sms`, charged only if it succeeds
 * - `GET /team/reports` needs `reports` on the `team` plan specifically
 *
 * The caller is named by the `X-User-Id` header: a stand-in for your own authentication
 * (in a real app, `subject` reads `req.user` set by your auth middleware).
 */
import type { Tollgate } from '@tollgate/core';
import { createGates } from '@tollgate/express';
import express from 'express';

/** Options of {@link createApp}. */
export interface ExampleAppOptions {
  tollgate: Tollgate;
}

/**
 * Builds the example API. It does not listen: call `app.listen(port)`.
 *
 * @example
 * const app = createApp({ tollgate });
 * app.listen(3001);
 */
export function createApp({ tollgate }: ExampleAppOptions): express.Express {
  const { requireFeature, meter } = createGates({
    tollgate,
    subject: (req) => {
      const userId = req.get('x-user-id');
      return userId ? { externalUserId: userId } : undefined;
    },
  });

  const app = express();
  app.disable('x-powered-by');

  app.get('/', (_req, res) => {
    res.json({
      routes: ['GET /export', 'POST /sms', 'GET /team/reports'],
      identify: 'X-User-Id: alice | bob | carol',
    });
  });

  app.get('/export', requireFeature('export'), (req, res) => {
    res.json({ export: 'signups.csv', rows: 301, plan: req.tollgate?.decision.planId });
  });

  app.post('/sms', meter('sms', 1), (req, res) => {
    // Sending the SMS would happen here. The unit is charged once this answers < 400.
    res.json({ sent: true, remaining: req.tollgate?.decisions.sms?.remaining });
  });

  app.get('/team/reports', requireFeature('reports', 'team'), (_req, res) => {
    res.json({ report: 'team activity', members: 4 });
  });

  return app;
}
