/**
 * The example's backend: the entitlement service embedded in this process (data in memory), or a remote one
 * when `TOLLGATE_URL` is set, and a Tollgate over it. The seed gives the demo users their
 * plans: alice free, bob pro, carol team.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createTollgate, licensarioProvider, type Tollgate, type TollgateOptions } from '@tollgate/core';
import { createServer } from '@tollgate/server';

/**
 * The catalog shared by the examples (examples/catalog.json).
 *
 * @example
 * await createServer({ catalog: CATALOG_PATH, port: 0, credentials: [{ key, secret }] });
 */
export const CATALOG_PATH = fileURLToPath(new URL('../../catalog.json', import.meta.url));

/**
 * Demo users and the plan each is seeded with.
 *
 * @example
 * SEED.find((u) => u.userId === 'bob')?.planId; // 'pro'
 */
export const SEED: ReadonlyArray<{ userId: string; planId: string }> = [
  { userId: 'alice', planId: 'free' },
  { userId: 'bob', planId: 'pro' },
  { userId: 'carol', planId: 'team' },
];

/** A Tollgate and whatever must be closed with it. */
export interface Backend {
  tollgate: Tollgate;
  /** Where the service runs. */
  serviceUrl: string;
  /** Flush usage, close the Tollgate and (if embedded) the service. */
  close(): Promise<void>;
}

/** Options of {@link startBackend}. */
export interface BackendOptions {
  /** A running service to use instead of the embedded one (with `apiKey`/`apiSecret`). */
  remote?: { url: string; apiKey: string; apiSecret: string } | undefined;
  /** Extra Tollgate options (cache, meter mode, …). */
  tollgate?: Omit<TollgateOptions, 'provider'>;
}

/**
 * Starts the backend and seeds the demo users.
 *
 * @example
 * const backend = await startBackend();
 * const app = createApp({ tollgate: backend.tollgate });
 */
export async function startBackend(options: BackendOptions = {}): Promise<Backend> {
  const closers: Array<() => Promise<void>> = [];
  let target = options.remote;
  try {
    if (target === undefined) {
      // Fresh credentials per start, never printed: only this process can call the service.
      const key = `example-${randomBytes(8).toString('hex')}`;
      const secret = randomBytes(24).toString('hex');
      // No dataDir: the embedded store lives in memory and goes with the process.
      const service = await createServer({ catalog: CATALOG_PATH, port: 0, credentials: [{ key, secret }] });
      closers.push(() => service.close());
      target = { url: service.url, apiKey: key, apiSecret: secret };
    }
    const provider = licensarioProvider({
      baseUrl: target.url,
      apiKey: target.apiKey,
      apiSecret: target.apiSecret,
    });
    const tollgate = createTollgate({ ...options.tollgate, provider });
    closers.push(async () => {
      await tollgate.close();
      await provider.close();
    });
    for (const { userId, planId } of SEED) await provider.ensureLicense({ externalUserId: userId }, planId);
    let closing: Promise<void> | undefined;
    return {
      tollgate,
      serviceUrl: target.url,
      close: () => {
        closing ??= runAll(closers);
        return closing;
      },
    };
  } catch (error) {
    await runAll(closers).catch(() => {});
    throw error;
  }
}

/** Runs the closers last-opened first. */
async function runAll(closers: Array<() => Promise<void>>): Promise<void> {
  for (const close of [...closers].reverse()) await close();
}
