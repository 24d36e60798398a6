/**
 * `req.tollgate` on Express 4 and 5 behaves as a plain per-request property, although the
 * adapter stores it behind an accessor (see packages/express/src/request-state.ts): it is set
 * by the gates, visible in mounted sub-apps, writable by the app, one slot with
 * `res.locals.tollgate`, and never leaks between requests or apps.
 */
import { createTollgate, type GateState } from '@tollgate/core';
import { createGates } from '@tollgate/express';
import express5 from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { express4, subject, useProService } from './helpers/request-state.js';

const service = useProService();

const summary = (state: GateState | undefined) =>
  state && { features: Object.keys(state.decisions), allowed: state.decision.allowed };

describe.each([
  ['Express 5', express5],
  ['Express 4', express4],
])('req.tollgate on %s', (_name, express) => {
  it('is set by the gates, per request, in the app and in a mounted sub-app', async () => {
    const tollgate = createTollgate({ provider: service().provider });
    const gates = createGates({ tollgate, subject });
    const app = express();
    const sub = express();
    sub.get('/sms', gates.meter('sms', 1), (req, res) => {
      res.json({ inSub: summary(req.tollgate), locals: summary(res.locals.tollgate) });
    });
    app.use('/sub', sub);
    app.get('/reports', gates.requireFeature('reports'), gates.meter('sms', 1), (req, res) => {
      res.json(summary(req.tollgate));
    });
    app.get('/open', (req, res) => res.json({ state: req.tollgate ?? null, has: 'tollgate' in req }));

    const gated = await request(app).get('/reports').set('x-user', 'alice').expect(200);
    expect(gated.body).toEqual({ features: ['reports', 'sms'], allowed: true });
    // Another request on the same app starts without state.
    expect((await request(app).get('/open').set('x-user', 'alice').expect(200)).body.state).toBeNull();
    const mounted = await request(app).get('/sub/sms').set('x-user', 'alice').expect(200);
    expect(mounted.body).toEqual({
      inSub: { features: ['sms'], allowed: true },
      locals: { features: ['sms'], allowed: true },
    });
    await tollgate.close();
  });

  it('can be set and cleared by the app like any property, without touching other requests', async () => {
    const tollgate = createTollgate({ provider: service().provider });
    const gates = createGates({ tollgate, subject });
    const app = express();
    app.get(
      '/rewrite',
      gates.requireFeature('reports'),
      (req, _res, next) => {
        const seen = req.tollgate?.decision.featureId;
        req.tollgate = undefined;
        req.res?.setHeader('x-seen', String(seen));
        next();
      },
      (req, res) => res.json({ after: req.tollgate ?? null }),
    );
    const response = await request(app).get('/rewrite').set('x-user', 'alice').expect(200);
    expect(response.headers['x-seen']).toBe('reports');
    expect(response.body).toEqual({ after: null });
    await tollgate.close();
  });

  it('is the same slot as res.locals.tollgate, whichever side the app writes', async () => {
    const tollgate = createTollgate({ provider: service().provider });
    const gates = createGates({ tollgate, subject });
    const app = express();
    app.get(
      '/slots',
      gates.requireFeature('reports'),
      (req, res, next) => {
        const same = req.tollgate === res.locals.tollgate && req.tollgate !== undefined;
        res.locals.tollgate = undefined;
        res.setHeader('x-same', String(same));
        next();
      },
      (req, res) => res.json({ afterClearingLocals: req.tollgate ?? null }),
    );
    const response = await request(app).get('/slots').set('x-user', 'alice').expect(200);
    expect(response.headers['x-same']).toBe('true');
    expect(response.body).toEqual({ afterClearingLocals: null });
    await tollgate.close();
  });

  it('keeps a denial state on the request for a custom onDenied', async () => {
    const tollgate = createTollgate({ provider: service().provider });
    const gates = createGates({
      tollgate,
      subject,
      onDenied: (decision, req, res) =>
        res.status(403).json({ reason: decision.reason, state: summary(req.tollgate) }),
    });
    const app = express();
    app.get('/reports', gates.requireFeature('reports'), (_req, res) => res.send('no'));
    const denied = await request(app).get('/reports').set('x-user', 'mallory').expect(403);
    expect(denied.body).toEqual({ reason: 'not_licensed', state: { features: ['reports'], allowed: false } });
    await tollgate.close();
  });
});
