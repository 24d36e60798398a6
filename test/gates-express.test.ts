/**
 * The gate behaviour table (test/helpers/gates-cases.ts) on Express 5 and Express 4, through
 * `@tollgate/express`, against the real service.
 */
import { createRequire } from 'node:module';
import { createTollgate } from '@tollgate/core';
import { createGates, type OnDenied, upsellRedirect } from '@tollgate/express';
import express5, { type RequestHandler } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateCase } from './helpers/gates-cases.js';
import { type GatesService, startGatesService } from './helpers/gates-service.js';
import { type FrameworkDriver, handlerBody, runGateTable, SUBJECT_HEADER } from './helpers/gates-table.js';
import { trackSettlements } from './helpers/gates-tracking.js';

// The `express4` alias (npm:express@^4) runs the same table on the previous major.
const express4 = createRequire(import.meta.url)('express4') as typeof express5;

function onDeniedFor(gateCase: GateCase): OnDenied | undefined {
  if (gateCase.onDenied === 'upsell') return upsellRedirect({ to: '/pricing' });
  if (gateCase.onDenied === 'upsell-next') {
    return upsellRedirect({ to: '/pricing', returnTo: (req) => String(req.query.next) });
  }
  return undefined;
}

function expressDriver(name: string, express: typeof express5): FrameworkDriver {
  return {
    name,
    build({ gateCase, tollgate, signals }) {
      const onDenied = onDeniedFor(gateCase);
      const gates = createGates({
        tollgate,
        subject: (req) => {
          const id = req.get(SUBJECT_HEADER);
          return id ? { externalUserId: id } : undefined;
        },
        ...(onDenied ? { onDenied } : {}),
      });
      const middleware = gateCase.gates.map((gate) =>
        gate.kind === 'require'
          ? gates.requireFeature(gate.featureId, gate.planId)
          : gates.meter(
              gate.featureId,
              gate.amount === 'query' ? (req) => Number(req.query.amount) : gate.amount,
              {
                ...(gate.chargeOn ? { chargeOn: gate.chargeOn } : {}),
                ...(gate.planId ? { planId: gate.planId } : {}),
              },
            ),
      );
      const handler: RequestHandler = (req, res) => {
        const spec = gateCase.handler ?? { kind: 'respond', status: 200 };
        if (spec.kind === 'throw') throw new Error('handler failed');
        if (spec.kind === 'hang') {
          res.once('close', signals.handlerSawClose);
          signals.handlerStarted();
          return;
        }
        res.status(spec.status).json(handlerBody(req.tollgate?.decisions));
      };
      const app = express();
      app.set('env', 'test'); // keeps finalhandler from printing the thrown error's stack
      app.get('/gated', ...middleware, handler);
      return app;
    },
  };
}

runGateTable(expressDriver('Express 5', express5));
runGateTable(expressDriver('Express 5', express5), { meterMode: 'sync' });
runGateTable(expressDriver('Express 5', express5), { warmCache: true });
runGateTable(expressDriver('Express 5', express5), { warmCache: true, oneFeaturePath: false });
runGateTable(expressDriver('Express 4', express4));

describe('Express 5: a rejected async handler is not charged', () => {
  let service: GatesService;
  beforeAll(async () => {
    service = await startGatesService();
  });
  afterAll(async () => {
    await service?.close();
  });

  it.each(['batched', 'sync'] as const)('%s metering', async (mode) => {
    const subject = service.freshSubject();
    await service.grant(subject, 'pro');
    const { tollgate, settled } = trackSettlements(
      createTollgate({ provider: service.provider, meter: { mode } }),
    );
    try {
      const gates = createGates({ tollgate, subject: () => subject });
      const app = express5();
      app.set('env', 'test');
      app.post('/send', gates.meter('sms', 3), async () => {
        await Promise.resolve();
        throw new Error('provider of SMS failed');
      });
      await request(app).post('/send').expect(500);
      await settled();
      await tollgate.flush();
      expect(await service.available(subject, 'sms')).toBe(10);
    } finally {
      await tollgate.close();
    }
  });
});
