/**
 * Options of `licensarioProvider`, validated once when the factory runs and resolved into an
 * internal `LicensarioConfig` (STYLE.md: programmer errors fail at setup).
 */
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { ConfigurationError } from '../../errors.js';

/**
 * Options of `licensarioProvider`. `undefined` means "not passed" (the default applies).
 *
 * @example
 * const options: LicensarioProviderOptions = {
 *   baseUrl: 'http://localhost:4000',
 *   apiKey: process.env.TOLLGATE_API_KEY!,
 *   apiSecret: process.env.TOLLGATE_API_SECRET!,
 *   timeoutMs: 500,
 * };
 */
export interface LicensarioProviderOptions {
  /** Root of the service, e.g. `http://localhost:4000` (a path prefix is kept: `https://host/licensario`). */
  baseUrl: string | URL;
  /** Sent as the `ISV_API_KEY` header. */
  apiKey: string;
  /** Sent as the `ISV_API_SECRET` header; never logged or put in an error message. */
  apiSecret: string;
  /** Budget for one call, connection and body included. @default 2000 */
  timeoutMs?: number | undefined;
  /** Sockets kept open to the service. @default 16 */
  connections?: number | undefined;
  /** How long an idle socket is kept for reuse. @default 4000 */
  keepAliveTimeoutMs?: number | undefined;
  /**
   * Advanced: send requests through this undici dispatcher (an `Agent`, a `ProxyAgent`, a
   * `MockAgent`) instead of the provider's own `Pool`. `connections` and `keepAliveTimeoutMs`
   * then do not apply, and `close()` leaves the dispatcher open (it is yours).
   */
  dispatcher?: Dispatcher | undefined;
}

/**
 * The resolved configuration (every default applied).
 *
 * @example
 * const { origin, basePath } = resolveLicensarioOptions({ baseUrl: 'https://h/x/', apiKey: 'k', apiSecret: 's' });
 * // origin 'https://h', basePath '/x'
 */
export interface LicensarioConfig {
  /** `protocol//host[:port]`, what the pool connects to. */
  origin: string;
  /** Path prefix from `baseUrl` without a trailing slash (`''` at the root). */
  basePath: string;
  apiKey: string;
  apiSecret: string;
  timeoutMs: number;
  connections: number;
  keepAliveTimeoutMs: number;
  dispatcher: Dispatcher | undefined;
}

const positiveInt = (what: string) =>
  z
    .number({ error: `${what} must be a number of milliseconds or a count` })
    .int(`${what} must be a whole number`)
    .positive(`${what} must be greater than 0`);

/** What an HTTP header value may hold (RFC 9110 §5.5): no control characters such as a stray newline. */
const HEADER_SAFE = /^[\t\x20-\x7e\x80-\xff]*$/;

const optionsSchema = z.object({
  baseUrl: z.union([z.string(), z.instanceof(URL)], {
    error: "baseUrl is required: pass the service's root URL, e.g. 'http://localhost:4000'",
  }),
  apiKey: z
    .string({ error: 'apiKey is required: pass the key the service was started with (TOLLGATE_API_KEY)' })
    .min(1, 'apiKey is empty: pass the key the service was started with (TOLLGATE_API_KEY)')
    .regex(
      HEADER_SAFE,
      'apiKey contains characters a header cannot carry (a newline?): check how it is read',
    ),
  apiSecret: z
    .string({
      error: 'apiSecret is required: pass the secret the service was started with (TOLLGATE_API_SECRET)',
    })
    .min(1, 'apiSecret is empty: pass the secret the service was started with (TOLLGATE_API_SECRET)')
    .regex(
      HEADER_SAFE,
      'apiSecret contains characters a header cannot carry (a newline?): check how it is read',
    ),
  timeoutMs: positiveInt('timeoutMs')
    .max(600_000, 'timeoutMs must be at most 600000 (10 minutes)')
    .optional(),
  connections: positiveInt('connections').max(1024, 'connections must be at most 1024').optional(),
  keepAliveTimeoutMs: positiveInt('keepAliveTimeoutMs').optional(),
  dispatcher: z
    .custom<Dispatcher>(
      (value) =>
        typeof value === 'object' && value !== null && typeof (value as Dispatcher).request === 'function',
      'dispatcher must be an undici Dispatcher (Agent, Pool, ProxyAgent, MockAgent)',
    )
    .optional(),
});

function resolveBaseUrl(raw: string | URL): { origin: string; basePath: string } {
  // The text of a bad baseUrl is not echoed: it may carry user:password.
  const bad = (why: string, cause?: unknown) =>
    new ConfigurationError(
      `licensarioProvider: baseUrl ${why}; pass the service's root URL, e.g. 'http://localhost:4000'.`,
      { cause },
    );
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw) : new URL(raw.href);
  } catch (error) {
    throw bad('is not an absolute URL', error);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('must use http: or https:');
  if (url.username || url.password) {
    throw bad('must not contain credentials (pass them as apiKey and apiSecret)');
  }
  if (url.search || url.hash) throw bad('must not have a query string or a fragment');
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
}

/**
 * Validates the options and applies the defaults. Throws `ConfigurationError` (with zod's
 * issues) naming the option to fix.
 *
 * @example
 * const config = resolveLicensarioOptions({ baseUrl: 'http://localhost:4000', apiKey: 'k', apiSecret: 's' });
 * config.timeoutMs; // 2000
 */
export function resolveLicensarioOptions(options: LicensarioProviderOptions): LicensarioConfig {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError(
      'licensarioProvider needs an options object: { baseUrl, apiKey, apiSecret } at least.',
    );
  }
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    // zod 4 issues carry no input values, so the secret cannot leak through them.
    const details = parsed.error.issues.map((issue) => issue.message).join('; ');
    throw new ConfigurationError(`licensarioProvider: ${details}.`, {
      issues: parsed.error.issues,
      cause: parsed.error,
    });
  }
  const value = parsed.data;
  return {
    ...resolveBaseUrl(value.baseUrl),
    apiKey: value.apiKey,
    apiSecret: value.apiSecret,
    timeoutMs: value.timeoutMs ?? 2000,
    connections: value.connections ?? 16,
    keepAliveTimeoutMs: value.keepAliveTimeoutMs ?? 4000,
    dispatcher: value.dispatcher,
  };
}
