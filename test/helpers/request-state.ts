/**
 * Shared setup of the `req.tollgate` tests: both Express majors, a service where alice holds
 * a `pro` licence (reports, 10 sms), and the subject taken from the `x-user` header.
 */
import { createRequire } from 'node:module';
import type { Subject } from '@tollgate/core';
import type express5 from 'express';
import { afterAll, beforeAll } from 'vitest';
import { type LicensarioService, startLicensarioService } from './licensario-service.js';

// The `express4` alias (npm:express@^4) has no types of its own.
export const express4 = createRequire(import.meta.url)('express4') as typeof express5;

export const subject = (req: express5.Request): Subject | undefined => {
  const user = req.get('x-user');
  return user ? { externalUserId: user } : undefined;
};

/**
 * Starts the service before the file's tests and closes it after; call at the top level.
 *
 * @example
 * const service = useProService();
 * createTollgate({ provider: service().provider });
 */
export function useProService(): () => LicensarioService {
  let service: LicensarioService | undefined;
  beforeAll(async () => {
    service = await startLicensarioService({
      plans: [{ id: 'pro', name: 'Pro', features: { reports: true, sms: 10 } }],
    });
    await service.provider.createLicense({ externalUserId: 'alice' }, 'pro');
  });
  afterAll(() => service?.close());
  return () => {
    if (service === undefined) throw new Error('useProService(): the service starts in beforeAll');
    return service;
  };
}
