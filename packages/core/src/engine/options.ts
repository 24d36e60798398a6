/**
 * `createTollgate` options: validated with zod once, when the factory runs, and resolved into
 * an internal `Config` with every default filled in (express-rate-limit's `parseOptions`).
 */
import { z } from 'zod';
import { ConfigurationError } from '../errors.js';
import type { EntitlementProvider } from '../types.js';
import { EVENT_NAMES, isEventName } from './events.js';
import { systemClock } from './system-clock.js';
import type { Clock, Logger, MeterMode, TollgateHooks, TollgateOptions } from './types.js';

/** Every option resolved: what the engine runs on. */
export interface Config {
  provider: EntitlementProvider;
  failMode: 'closed' | 'open';
  timeoutMs: number;
  cache: { max: number; ttlMs: number; negativeTtlMs: number; staleTtlMs: number };
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  circuit: { failureThreshold: number; resetMs: number };
  meter: { mode: MeterMode; flushIntervalMs: number; maxBatchSize: number; maxPendingKeys: number };
  clock: Clock;
  logger: Logger;
  hooks: TollgateHooks;
}

const ms = (what: string) =>
  z
    .number({ error: `${what} must be a number of milliseconds` })
    .int(`${what} must be a whole number of milliseconds`);

const isFn = (value: unknown, name: string) =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Record<string, unknown>)[name] === 'function';

const schema = z.strictObject({
  provider: z.custom<EntitlementProvider>((v) => isFn(v, 'getLicenses') && isFn(v, 'adjustAllocation'), {
    error:
      'provider is required: pass an EntitlementProvider such as licensarioProvider({ baseUrl, apiKey, apiSecret }) or memoryProvider(fixture)',
  }),
  failMode: z
    .enum(['closed', 'open'], { error: "failMode must be 'closed' (deny, the default) or 'open' (allow)" })
    .optional(),
  timeoutMs: ms('timeoutMs').min(1).max(600_000).optional(),
  cache: z
    .strictObject({
      max: z.number().int().min(1, 'cache.max must be at least 1 entry').optional(),
      ttlMs: ms('cache.ttlMs').min(1).optional(),
      negativeTtlMs: ms('cache.negativeTtlMs').min(1).optional(),
      staleTtlMs: ms('cache.staleTtlMs').min(0).optional(),
    })
    .optional(),
  retry: z
    .strictObject({
      attempts: z
        .number()
        .int()
        .min(1, 'retry.attempts must be at least 1 (1 = no retry)')
        .max(10)
        .optional(),
      baseDelayMs: ms('retry.baseDelayMs').min(0).optional(),
      maxDelayMs: ms('retry.maxDelayMs').min(0).optional(),
    })
    .optional(),
  circuit: z
    .strictObject({
      failureThreshold: z.number().int().min(1, 'circuit.failureThreshold must be at least 1').optional(),
      resetMs: ms('circuit.resetMs').min(1).optional(),
    })
    .optional(),
  meter: z
    .strictObject({
      mode: z
        .enum(['batched', 'sync'], { error: "meter.mode must be 'batched' (the default) or 'sync'" })
        .optional(),
      flushIntervalMs: ms('meter.flushIntervalMs').min(10).optional(),
      maxBatchSize: z.number().positive('meter.maxBatchSize must be > 0 units').optional(),
      maxPendingKeys: z.number().int().min(1, 'meter.maxPendingKeys must be at least 1').optional(),
    })
    .optional(),
  clock: z
    .custom<Clock>((v) => isFn(v, 'now'), { error: 'clock must be an object with now(): number (epoch ms)' })
    .optional(),
  logger: z
    .custom<Logger>((v) => ['debug', 'info', 'warn', 'error'].every((m) => isFn(v, m)), {
      error: 'logger must have debug/info/warn/error(obj, msg) methods (pino-compatible)',
    })
    .optional(),
  hooks: z
    .record(
      z.string(),
      z.custom<(...args: never[]) => void>((v) => typeof v === 'function'),
    )
    .optional(),
});

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Validates options and fills in the defaults; throws `ConfigurationError` naming the bad option.
 *
 * @example
 * resolveConfig({ provider }).cache.ttlMs; // 30000
 */
export function resolveConfig(options: TollgateOptions): Config {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join('.') : 'options';
      return issue.code === 'unrecognized_keys'
        ? `${path}: unknown option(s) ${issue.keys.join(', ')}; see the options table in @tollgate/core's README`
        : `${path}: ${issue.message}`;
    });
    throw new ConfigurationError(`createTollgate: invalid options.\n- ${lines.join('\n- ')}`, {
      issues: parsed.error.issues,
    });
  }
  const o = parsed.data;
  for (const name of Object.keys(o.hooks ?? {})) {
    if (!isEventName(name)) {
      throw new ConfigurationError(
        `createTollgate: hooks.${name} is not an event; use one of ${EVENT_NAMES.join(', ')}.`,
      );
    }
  }
  const retry = {
    attempts: o.retry?.attempts ?? 3,
    baseDelayMs: o.retry?.baseDelayMs ?? 50,
    maxDelayMs: o.retry?.maxDelayMs ?? 1000,
  };
  if (retry.maxDelayMs < retry.baseDelayMs) {
    throw new ConfigurationError(
      `createTollgate: retry.maxDelayMs (${retry.maxDelayMs}) must be ≥ retry.baseDelayMs (${retry.baseDelayMs}).`,
    );
  }
  return {
    provider: o.provider,
    failMode: o.failMode ?? 'closed',
    timeoutMs: o.timeoutMs ?? 2000,
    cache: {
      max: o.cache?.max ?? 10_000,
      ttlMs: o.cache?.ttlMs ?? 30_000,
      negativeTtlMs: o.cache?.negativeTtlMs ?? 5000,
      staleTtlMs: o.cache?.staleTtlMs ?? 300_000,
    },
    retry,
    circuit: { failureThreshold: o.circuit?.failureThreshold ?? 5, resetMs: o.circuit?.resetMs ?? 5000 },
    meter: {
      mode: o.meter?.mode ?? 'batched',
      flushIntervalMs: o.meter?.flushIntervalMs ?? 1000,
      maxBatchSize: o.meter?.maxBatchSize ?? 100,
      maxPendingKeys: o.meter?.maxPendingKeys ?? 10_000,
    },
    clock: o.clock ?? systemClock(),
    logger: o.logger ?? silentLogger,
    hooks: (o.hooks ?? {}) as TollgateHooks,
  };
}
