/**
 * The real Tollgate service for the gate behaviour table: `createServer` on port 0 with a
 * small catalog, reached over HTTP through `licensarioProvider`, plus the bookkeeping the
 * table needs (fresh subjects, grants, expired licences, reading what was charged).
 */
import { createServer as createNetServer } from 'node:net';
import { type EntitlementProvider, licensarioProvider, type Subject } from '@tollgate/core';
import type { TollgateServer } from '@tollgate/server';
import { SERVICE_KEY, SERVICE_SECRET, startLicensarioService } from './licensario-service.js';

const DAY_MS = 86_400_000;

/** Plans of the table: `pro` grants everything; `monthly` expires; `team` only for plan checks. */
export const GATES_CATALOG = {
  plans: [
    { id: 'pro', name: 'Pro', features: { reports: true, sms: 10, mms: 5 } },
    { id: 'team', name: 'Team', features: { reports: true, sms: 100 } },
    { id: 'monthly', name: 'Monthly', durationDays: 30, features: { archive: true } },
  ],
};

/** Initial allocation per licence, by plan and feature. */
export const INITIAL_ALLOCATION: Record<string, number> = { sms: 10, mms: 5 };

export interface GatesService {
  readonly server: TollgateServer;
  /** An `EntitlementProvider` speaking HTTP to the service. */
  readonly provider: EntitlementProvider;
  /** A subject no other case uses. */
  freshSubject(): { externalUserId: string };
  grant(subject: Subject, planId: string): Promise<void>;
  /** Grant a licence of `planId` (which must have `durationDays`) that expired a month ago. */
  grantExpired(subject: Subject, planId: string): Promise<void>;
  setAvailable(subject: Subject, featureId: string, available: number): Promise<void>;
  available(subject: Subject, featureId: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts the service and an HTTP provider for it.
 *
 * @example
 * const service = await startGatesService();
 * afterAll(() => service.close());
 */
export async function startGatesService(): Promise<GatesService> {
  let offsetMs = 0;
  const service = await startLicensarioService(
    GATES_CATALOG,
    {},
    { clock: { now: () => Date.now() + offsetMs } },
  );
  const { server, provider } = service;
  let counter = 0;
  const local = server.provider;
  return {
    server,
    provider,
    freshSubject: () => ({ externalUserId: `gate-user-${process.pid}-${++counter}` }),
    grant: async (subject, planId) => {
      await local.ensureLicense(subject, planId);
    },
    grantExpired: async (subject, planId) => {
      offsetMs = -60 * DAY_MS;
      try {
        await local.createLicense(subject, planId);
      } finally {
        offsetMs = 0;
      }
    },
    setAvailable: async (subject, featureId, available) => {
      await local.setAllocation(subject, featureId, available);
    },
    available: async (subject, featureId) => (await local.getAllocation(subject, featureId)).available,
    close: () => service.close(),
  };
}

/**
 * A provider for a service that is down: the port was bound then released, so every
 * connection is refused.
 *
 * @example
 * const dead = await unreachableProvider();
 */
export async function unreachableProvider(): Promise<EntitlementProvider> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve, reject) => probe.close((e) => (e ? reject(e) : resolve())));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return licensarioProvider({
    baseUrl: `http://127.0.0.1:${address.port}`,
    apiKey: SERVICE_KEY,
    apiSecret: SERVICE_SECRET,
    timeoutMs: 500,
  });
}
