/**
 * What the behaviour table does not cover: setup mistakes fail at setup in both adapters,
 * `createGates({ provider })` builds and owns its engine, and the hot path — a cached
 * decision or a local reservation reaches `next()` before the middleware returns.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import {
  ConfigurationError,
  createTollgate,
  type GateState,
  memoryProvider,
  type Subject,
} from '@tollgate/core';
import * as expressGates from '@tollgate/express';
import * as koaGates from '@tollgate/koa';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import Koa from 'koa';
import request from 'supertest';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';

const ALICE: Subject = { externalUserId: 'alice' };
const fixture = () =>
  memoryProvider({
    plans: [{ id: 'pro', name: 'Pro', features: { reports: true, sms: 10 } }],
    licenses: [{ subject: ALICE, planId: 'pro' }],
  });

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Both adapters' `createGates`, loosely typed: these tests feed them wrong options on purpose. */
type LooseGates = { requireFeature: (...args: unknown[]) => unknown; meter: (...args: unknown[]) => unknown };
type LooseCreateGates = (options: object) => LooseGates;

describe.each([
  ['express', expressGates.createGates as unknown as LooseCreateGates],
  ['koa', koaGates.createGates as unknown as LooseCreateGates],
])('%s: setup mistakes throw ConfigurationError when the gate is built', (_name, createGates) => {
  const tollgate = () => {
    const t = createTollgate({ provider: fixture() });
    closers.push(() => t.close());
    return t;
  };

  it.each([
    ['no subject function', () => ({ tollgate: tollgate() })],
    ['subject not a function', () => ({ tollgate: tollgate(), subject: 'alice' })],
    ['neither tollgate nor provider', () => ({ subject: () => ALICE })],
    [
      'both tollgate and provider',
      () => ({ tollgate: tollgate(), provider: fixture(), subject: () => ALICE }),
    ],
    ['an unknown chargeOn', () => ({ tollgate: tollgate(), subject: () => ALICE, chargeOn: 'sometimes' })],
    ['onDenied not a function', () => ({ tollgate: tollgate(), subject: () => ALICE, onDenied: '/pricing' })],
    [
      'a header-breaking wwwAuthenticate',
      () => ({ tollgate: tollgate(), subject: () => ALICE, wwwAuthenticate: 'a\r\nb' }),
    ],
  ])('%s', (_case, options) => {
    expect(() => createGates(options())).toThrow(ConfigurationError);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1', undefined])('meter amount %s', (amount) => {
    const gates = createGates({ tollgate: tollgate(), subject: () => ALICE });
    expect(() => gates.meter('sms', amount)).toThrow(ConfigurationError);
  });

  it('an empty feature id or plan id', () => {
    const gates = createGates({ tollgate: tollgate(), subject: () => ALICE });
    expect(() => gates.requireFeature('')).toThrow(ConfigurationError);
    expect(() => gates.requireFeature('reports', '')).toThrow(ConfigurationError);
    expect(() => gates.meter('', 1)).toThrow(ConfigurationError);
  });
});

describe('upsellRedirect needs a destination', () => {
  it.each([expressGates.upsellRedirect, koaGates.upsellRedirect])('%#', (upsellRedirect) => {
    expect(() => upsellRedirect({ to: '' })).toThrow(ConfigurationError);
    expect(() => upsellRedirect({} as { to: string })).toThrow(ConfigurationError);
  });
});

describe('createGates({ provider }) builds the engine and close() closes it', () => {
  it('express', async () => {
    const gates = expressGates.createGates({ provider: fixture(), failMode: 'closed', subject: () => ALICE });
    const app = express().get('/r', gates.requireFeature('reports'), (_req, res) => {
      res.json({ ok: true });
    });
    await request(app).get('/r').expect(200, { ok: true });
    await gates.close();
    await expect(gates.tollgate.check(ALICE, 'reports')).rejects.toMatchObject({ code: 'TOLLGATE_CLOSED' });
  });

  it('koa', async () => {
    const gates = koaGates.createGates({ provider: fixture(), subject: () => ALICE });
    const app = new Koa();
    app.use(gates.requireFeature('reports'));
    app.use((ctx) => {
      ctx.body = { ok: true, reason: ctx.state.tollgate?.decision.reason };
    });
    await request(app.callback()).get('/').expect(200, { ok: true, reason: 'licensed' });
    await gates.close();
    await expect(gates.tollgate.check(ALICE, 'reports')).rejects.toMatchObject({ code: 'TOLLGATE_CLOSED' });
  });

  it('keeps an instance passed as `tollgate` open', async () => {
    const tollgate = createTollgate({ provider: fixture() });
    closers.push(() => tollgate.close());
    await expressGates.createGates({ tollgate, subject: () => ALICE }).close();
    await expect(tollgate.check(ALICE, 'reports')).resolves.toMatchObject({ allowed: true });
  });
});

describe('hot path: a cached answer reaches next() synchronously (Express)', () => {
  const exchange = () => {
    const req = new IncomingMessage(new Socket()) as unknown as Request;
    const res = new ServerResponse(req) as unknown as Response;
    res.locals = {};
    return { req, res };
  };

  it('requireFeature: the first request waits for the service, the next one does not', async () => {
    const tollgate = createTollgate({ provider: fixture() });
    closers.push(() => tollgate.close());
    const gate = expressGates.createGates({ tollgate, subject: () => ALICE }).requireFeature('reports');

    const first = exchange();
    let nextCalls = 0;
    const firstDone = new Promise<void>((resolve) => {
      gate(first.req, first.res, (() => {
        nextCalls++;
        resolve();
      }) as NextFunction);
    });
    expect(nextCalls).toBe(0); // a miss: the decision comes from the provider, later
    await firstDone;

    const second = exchange();
    gate(second.req, second.res, (() => nextCalls++) as NextFunction);
    expect(nextCalls).toBe(2); // a hit: next() ran before the middleware returned
    expect(second.req.tollgate?.decision).toMatchObject({ allowed: true, source: 'cache' });
  });

  it('meter: once the allocation is known locally, the reservation is synchronous too', async () => {
    const tollgate = createTollgate({ provider: fixture() });
    closers.push(() => tollgate.close());
    const gate = expressGates.createGates({ tollgate, subject: () => ALICE }).meter('sms', 1);

    const first = exchange();
    await new Promise<void>((resolve) => gate(first.req, first.res, (() => resolve()) as NextFunction));

    const second = exchange();
    let called = false;
    gate(second.req, second.res, (() => {
      called = true;
    }) as NextFunction);
    expect(called).toBe(true);
    expect(second.res.getHeader('RateLimit')).toBe('"sms";r=8');
  });
});

describe('createGates({ wwwAuthenticate }) answers an anonymous request with the scheme', () => {
  it('express', async () => {
    const gates = expressGates.createGates({
      provider: fixture(),
      subject: () => undefined,
      wwwAuthenticate: 'Bearer realm="app"',
    });
    closers.push(() => gates.close());
    const app = express().get('/r', gates.requireFeature('reports'), (_req, res) => {
      res.json({});
    });
    await request(app).get('/r').expect(401).expect('WWW-Authenticate', 'Bearer realm="app"');
  });

  it('koa', async () => {
    const gates = koaGates.createGates({
      provider: fixture(),
      subject: () => undefined,
      wwwAuthenticate: 'Bearer',
    });
    closers.push(() => gates.close());
    const app = new Koa();
    app.use(gates.meter('sms', 1));
    await request(app.callback()).get('/').expect(401).expect('WWW-Authenticate', 'Bearer');
  });
});

describe('declaration merging types what the gates attach', () => {
  it('Express Request and Locals, Koa DefaultState carry GateState', () => {
    // Checked by the root type-check (`tsc -p tsconfig.json`); a runtime no-op.
    expectTypeOf<Request['tollgate']>().toEqualTypeOf<GateState | undefined>();
    expectTypeOf<Response['locals']['tollgate']>().toEqualTypeOf<GateState | undefined>();
    expectTypeOf<Koa.DefaultState['tollgate']>().toEqualTypeOf<GateState | undefined>();
    expectTypeOf<Koa.ParameterizedContext['state']['tollgate']>().toEqualTypeOf<GateState | undefined>();
  });
});
