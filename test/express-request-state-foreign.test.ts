/**
 * `req.tollgate` when the adapter cannot put its accessor on Express's base request prototype:
 * someone else (another copy of @tollgate/express, or the app) defined `tollgate` there first,
 * or the prototype is sealed. The gates then go through `req.tollgate` itself, and both slots
 * must still hold every gate's decision. (Its own file: vitest gives each file fresh modules,
 * so these prototypes are untouched by the other request-state tests.)
 */
import { createTollgate, type GateState } from '@tollgate/core';
import { createGates } from '@tollgate/express';
import express5 from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { express4, subject, useProService } from './helpers/request-state.js';

const service = useProService();
const features = (state: GateState | undefined) => (state ? Object.keys(state.decisions) : null);

async function gatedFeatures(express: typeof express5) {
  const tollgate = createTollgate({ provider: service().provider });
  const gates = createGates({ tollgate, subject });
  const app = express();
  app.get('/reports', gates.requireFeature('reports'), gates.meter('sms', 1), (req, res) => {
    res.json({ req: features(req.tollgate), locals: features(res.locals.tollgate) });
  });
  const response = await request(app).get('/reports').set('x-user', 'alice').expect(200);
  await tollgate.close();
  return response.body;
}

describe('req.tollgate without our accessor', () => {
  it("works through someone else's accessor on the base request prototype (Express 5)", async () => {
    const theirs = new WeakMap<object, unknown>();
    let writes = 0;
    Object.defineProperty(express5.request, 'tollgate', {
      configurable: true,
      get(this: object) {
        return theirs.get(this);
      },
      set(this: object, value: unknown) {
        writes++;
        theirs.set(this, value);
      },
    });
    expect(await gatedFeatures(express5)).toEqual({ req: ['reports', 'sms'], locals: ['reports', 'sms'] });
    // Their accessor was kept, not replaced: each gate wrote the state through it.
    expect(writes).toBe(2);
  });

  it('works on a sealed base request prototype (Express 4)', async () => {
    Object.preventExtensions(express4.request);
    expect(await gatedFeatures(express4)).toEqual({ req: ['reports', 'sms'], locals: ['reports', 'sms'] });
    expect(Object.hasOwn(express4.request, 'tollgate')).toBe(false);
  });
});
