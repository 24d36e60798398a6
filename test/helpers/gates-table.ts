/**
 * Runs the gate behaviour table (gates-cases.ts) against one framework. A framework driver
 * only builds an app from a case; starting the service, the requests, the disconnecting
 * client and counting charges at the service are shared here.
 */
import { createServer, request as httpRequest, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTollgate, type EntitlementProvider, type MeterMode, type Tollgate } from '@tollgate/core';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GATE_CASES, type GateCase } from './gates-cases.js';
import { type GatesService, startGatesService, unreachableProvider } from './gates-service.js';
import { trackSettlements } from './gates-tracking.js';

/** Lets a hanging handler tell the client when to disconnect, and the test when it saw it. */
export interface CaseSignals {
  handlerStarted(): void;
  handlerSawClose(): void;
}

/** What a framework driver gets to build the app of one case. */
export interface BuildInput {
  gateCase: GateCase;
  tollgate: Tollgate;
  signals: CaseSignals;
}

/** Builds, for one framework version, the app serving `GET /gated` for a case. */
export interface FrameworkDriver {
  name: string;
  build(input: BuildInput): RequestListener;
}

/** Header the apps read the subject from (a stand-in for the app's own authentication). */
export const SUBJECT_HEADER = 'x-user-id';

/** The handler's JSON answer: what it saw of the attached decisions. */
export function handlerBody(
  decisions: Record<string, { reason: string; source: string; remaining?: number }> | undefined,
) {
  const reasons: Record<string, string> = {};
  const sources: Record<string, string> = {};
  const remaining: Record<string, number | undefined> = {};
  for (const [featureId, decision] of Object.entries(decisions ?? {})) {
    reasons[featureId] = decision.reason;
    sources[featureId] = decision.source;
    remaining[featureId] = decision.remaining;
  }
  return { ok: true, reasons, sources, remaining };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function listen(listener: RequestListener): Promise<Server> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Defines the table's tests for one framework version (and one engine metering mode). */
export function runGateTable(
  driver: FrameworkDriver,
  options: { meterMode?: MeterMode; oneFeaturePath?: boolean; warmCache?: boolean } = {},
): void {
  const meterMode = options.meterMode ?? 'batched';
  const oneFeaturePath = options.oneFeaturePath ?? true;
  const kind = [
    `${meterMode} metering`,
    ...(options.warmCache ? ['decisions cached before the request'] : []),
    ...(oneFeaturePath ? [] : ['an engine without the one-feature path']),
  ].join(', ');
  describe(`gate behaviour table on ${driver.name}, ${kind}`, () => {
    let service: GatesService;
    let unreachable: EntitlementProvider;
    const cleanups: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      service = await startGatesService();
      unreachable = await unreachableProvider();
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    afterAll(async () => {
      await unreachable?.close?.();
      await service?.close();
    });

    it.each(GATE_CASES.map((gateCase) => [gateCase.name, gateCase] as const))(
      '%s',
      async (_name, gateCase) => {
        const subject = service.freshSubject();
        for (const planId of gateCase.grants ?? []) await service.grant(subject, planId);
        for (const planId of gateCase.expired ?? []) await service.grantExpired(subject, planId);
        for (const [featureId, amount] of Object.entries(gateCase.available ?? {})) {
          await service.setAvailable(subject, featureId, amount);
        }
        const charged = Object.keys(gateCase.expect.charged ?? {});
        const before = new Map<string, number>();
        for (const featureId of charged) before.set(featureId, await service.available(subject, featureId));

        const engine = createTollgate({
          provider: gateCase.backend === 'down' ? unreachable : service.provider,
          failMode: gateCase.failMode ?? 'closed',
          retry: { attempts: 1 },
          meter: { mode: meterMode },
        });
        const { tollgate, settled } = trackSettlements(engine, { oneFeaturePath });
        cleanups.push(() => tollgate.close());
        if (options.warmCache && !gateCase.anonymous) {
          // The request then finds its decisions cached: the gates' synchronous paths
          // (checkCached, and reserveCached or the one-feature reserve) decide it.
          for (const gate of gateCase.gates) await engine.check(subject, gate.featureId, gate.planId);
        }
        const started = deferred();
        const sawClose = deferred();
        const signals: CaseSignals = { handlerStarted: started.resolve, handlerSawClose: sawClose.resolve };
        const server = await listen(driver.build({ gateCase, tollgate, signals }));
        cleanups.push(() => closeServer(server));

        const path = `/gated${gateCase.request?.query ?? ''}`;
        const headers: Record<string, string> = { accept: gateCase.request?.accept ?? 'application/json' };
        if (!gateCase.anonymous) headers[SUBJECT_HEADER] = subject.externalUserId;

        if (gateCase.request?.disconnect) {
          // A real client that goes away while the handler is still working.
          const { port } = server.address() as AddressInfo;
          const req = httpRequest({ host: '127.0.0.1', port, path, headers });
          req.on('error', () => undefined);
          req.end();
          await started.promise;
          req.destroy();
          await sawClose.promise;
          expect(gateCase.expect.status).toBeNull();
        } else {
          const res = await request(server).get(path).set(headers);
          expect(res.status).toBe(gateCase.expect.status);
          const { problemType, headers: expectedHeaders, remainingSeen } = gateCase.expect;
          const body = options.warmCache ? servedFromCache(gateCase.expect.body) : gateCase.expect.body;
          if (problemType !== undefined) {
            expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
            const doc = JSON.parse(res.text) as Record<string, unknown>;
            expect(doc.type).toBe(problemType);
            expect(doc.status).toBe(res.status);
            if (body !== undefined) expect(doc).toMatchObject(body);
          } else if (body !== undefined) {
            expect(res.body).toMatchObject(body);
          }
          for (const [name, expected] of Object.entries(expectedHeaders ?? {})) {
            if (expected === undefined) expect(res.headers[name]).toBeUndefined();
            else if (expected instanceof RegExp) expect(res.headers[name]).toMatch(expected);
            else expect(res.headers[name]).toBe(expected);
          }
          for (const [featureId, remaining] of Object.entries(remainingSeen ?? {})) {
            expect(res.body.remaining[featureId]).toBe(remaining);
          }
        }

        // Commits and releases run after the response; batched commits are queued on top.
        await settled();
        await tollgate.flush();
        for (const featureId of charged) {
          const after = await service.available(subject, featureId);
          expect({ featureId, charged: (before.get(featureId) ?? 0) - after }).toEqual({
            featureId,
            charged: gateCase.expect.charged?.[featureId],
          });
        }
      },
    );
  });
}

/** A case's expected body when its decisions were cached first: `backend` sources read `cache`. */
function servedFromCache(body: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const sources = body?.sources as Record<string, string> | undefined;
  if (sources === undefined) return body;
  const cached = Object.fromEntries(
    Object.entries(sources).map(([featureId, source]) => [
      featureId,
      source === 'backend' ? 'cache' : source,
    ]),
  );
  return { ...body, sources: cached };
}
