/**
 * The examples' backend: the entitlement service embedded in this process (data in memory or
 * in a directory), or a remote one when the caller names it, and a Tollgate over it that
 * talks HTTP exactly as a production app talks to a remote service. The default seed gives
 * the API examples' users their plans: alice free, bob pro, carol team.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  createTollgate,
  type EntitlementProvider,
  licensarioProvider,
  type Tollgate,
  type TollgateOptions,
} from '@tollgate/core';
import { createServer } from '@tollgate/server';

/**
 * The catalog shared by the examples (examples/catalog.json): plans free / pro / team.
 *
 * @example
 * await createServer({ catalog: CATALOG_PATH, port: 0, credentials: [{ key, secret }] });
 */
export const CATALOG_PATH = fileURLToPath(new URL('../../catalog.json', import.meta.url));

/**
 * Demo users of the Express and Koa examples and the plan each is seeded with.
 *
 * @example
 * SEED.find((u) => u.userId === 'bob')?.planId; // 'pro'
 */
export const SEED: ReadonlyArray<{ userId: string; planId: string }> = [
  { userId: 'alice', planId: 'free' },
  { userId: 'bob', planId: 'pro' },
  { userId: 'carol', planId: 'team' },
];

/** Where a running service is and the ISV credentials to call it with. */
export interface RemoteService {
  url: string;
  apiKey: string;
  apiSecret: string;
}

/**
 * The service named by `TOLLGATE_URL`, `TOLLGATE_API_KEY` and `TOLLGATE_API_SECRET`, or
 * `undefined` (use the embedded one) when `TOLLGATE_URL` is unset or empty.
 *
 * @example
 * const backend = await startBackend({ remote: remoteFromEnv() });
 */
export function remoteFromEnv(env: NodeJS.ProcessEnv = process.env): RemoteService | undefined {
  const { TOLLGATE_URL, TOLLGATE_API_KEY = '', TOLLGATE_API_SECRET = '' } = env;
  return TOLLGATE_URL
    ? { url: TOLLGATE_URL, apiKey: TOLLGATE_API_KEY, apiSecret: TOLLGATE_API_SECRET }
    : undefined;
}

/** A Tollgate and whatever must be closed with it. */
export interface Backend {
  tollgate: Tollgate;
  /** Where the service runs. */
  serviceUrl: string;
  /** Flush usage, close the Tollgate and (if embedded) the service. Safe to call twice. */
  close(): Promise<void>;
}

/** Options of {@link startBackend}. */
export interface BackendOptions {
  /** A running service to use instead of the embedded one (with `apiKey`/`apiSecret`). */
  remote?: RemoteService | undefined;
  /**
   * Where the embedded service keeps its data (created if missing; kept across runs).
   * Default: in memory, gone on `close()`, so every start begins from the seeded state.
   */
  dataDir?: string | undefined;
  /** Plan catalog of the embedded service. @default CATALOG_PATH */
  catalog?: string;
  /** Extra Tollgate options (cache, meter mode, …). */
  tollgate?: Omit<TollgateOptions, 'provider'>;
  /**
   * Gives the demo users their starting entitlements. Runs on every start, so it must be
   * idempotent. Default: ensure each {@link SEED} user's licence.
   */
  seed?: (provider: EntitlementProvider) => Promise<void>;
}

/**
 * Starts the backend and seeds the demo users.
 *
 * @example
 * const backend = await startBackend();
 * const app = createApp({ tollgate: backend.tollgate });
 * // …
 * await backend.close();
 */
export async function startBackend(options: BackendOptions = {}): Promise<Backend> {
  const closers: Array<() => Promise<void>> = [];
  let target = options.remote;
  try {
    if (target === undefined) {
      // Fresh credentials per start, never printed: only this process can call the service.
      const key = `example-${randomBytes(8).toString('hex')}`;
      const secret = randomBytes(24).toString('hex');
      const service = await createServer({
        catalog: options.catalog ?? CATALOG_PATH,
        port: 0,
        host: '127.0.0.1',
        ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
        credentials: [{ key, secret }],
      });
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
    await (options.seed ?? seedPlans)(provider);
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

/** The default seed: each {@link SEED} user holds their plan. */
async function seedPlans(provider: EntitlementProvider): Promise<void> {
  for (const { userId, planId } of SEED) await provider.ensureLicense({ externalUserId: userId }, planId);
}

/** Runs the closers last-opened first. */
async function runAll(closers: Array<() => Promise<void>>): Promise<void> {
  for (const close of [...closers].reverse()) await close();
}
