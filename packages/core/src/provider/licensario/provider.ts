/**
 * `licensarioProvider`: the `EntitlementProvider` over the Licensario REST API
 * (packages/server/README.md), plus the Licensario-only calls (wizard tokens, transactions,
 * balance). Endpoint knowledge lives here; the HTTP exchange is transport.ts, the answer
 * shapes are wire-schemas.ts.
 */
import { Pool } from 'undici';
import type { z } from 'zod';
import {
  AllocationExhaustedError,
  ClosedError,
  ConfigurationError,
  type HttpError,
  hasErrorCode,
  InvalidAmountError,
  InvalidResponseError,
  UnsupportedError,
} from '../../errors.js';
import type {
  AdjustAllocationOptions,
  AdjustmentOutcome,
  Allocation,
  AllocationAdjustment,
  AllocationOptions,
  CallOptions,
  CreateLicenseOptions,
  EntitlementProvider,
  License,
  LicenseQuery,
  Plan,
  Subject,
  WriteOptions,
} from '../../types.js';
import { httpError, readErrorBody } from './http-errors.js';
import { type LicensarioProviderOptions, resolveLicensarioOptions } from './options.js';
import { segment, subjectPath } from './paths.js';
import { createTransport, type ExchangeRequest, type ExchangeResponse } from './transport.js';
import { formatWireDate } from './wire-format.js';
import {
  adjustmentResultsSchema,
  allocationSchema,
  balanceSchema,
  licenseListSchema,
  licenseSchema,
  planListSchema,
  transactionSchema,
  type WireErrorBody,
  wizardTokenSchema,
} from './wire-schemas.js';

/**
 * A payment recorded against a licence (Licensario's "Log a transaction").
 *
 * @example
 * const tx: TransactionInput = {
 *   uuid: crypto.randomUUID(),
 *   licenseId: license.id,
 *   amount: 40,
 *   externalTransactionId: charge.id,
 *   subject: { externalUserId: 'u-42' },
 * };
 */
export interface TransactionInput {
  /** Your unique id for this transaction: logging the same `uuid` again returns the same id. */
  uuid: string;
  /** The licence paid for or refunded. */
  licenseId?: string | undefined;
  /** Amount including fees; a decimal. */
  amount: number;
  /** The id in your payment system. */
  externalTransactionId?: string | undefined;
  /** Whose transaction it is (sent as `userId` or `externalUserId`). */
  subject?: Subject | undefined;
  /** @default 'license' */
  type?: 'license' | 'refund' | undefined;
}

/** The period of {@link LicensarioProvider.getBalance}; the service's default is the last 30 days. */
export interface BalanceRange {
  from?: Date | undefined;
  to?: Date | undefined;
}

/**
 * The provider `licensarioProvider` returns: the whole `EntitlementProvider`, plus the
 * Licensario-only calls (upsell wizard, transactions, balance) and a `close()` that is always there.
 *
 * @example
 * const provider: LicensarioProvider = licensarioProvider({ baseUrl, apiKey, apiSecret });
 * const token = await provider.createWizardToken('u-42');
 */
export interface LicensarioProvider extends EntitlementProvider {
  adjustAllocations(
    adjustments: readonly AllocationAdjustment[],
    options?: CallOptions,
  ): Promise<AdjustmentOutcome[]>;
  revokeLicense(licenseId: string, options?: WriteOptions & { reason?: string }): Promise<void>;
  getPlans(query?: { featureId?: string }, options?: CallOptions): Promise<Plan[]>;
  /** A short-lived signed token for Licensario's licensing wizard (the upsell flow). */
  createWizardToken(externalUserId: string, options?: WriteOptions): Promise<string>;
  /** Logs a payment or refund; answers the service's transaction id. */
  logTransaction(transaction: TransactionInput, options?: WriteOptions): Promise<{ id: string }>;
  /** Net revenue between `from` and `to` (the service's default: the last 30 days). */
  getBalance(range?: BalanceRange, options?: CallOptions): Promise<{ balance: number }>;
  /** Closes the sockets after in-flight calls finish; later calls throw `ClosedError`. */
  close(): Promise<void>;
}

/** Our batch endpoint (packages/server/README.md), and the most adjustments sent in one request of it. */
const BATCH_PATH = '/api/v1/allocations/batch';
const MAX_BATCH = 500;

/** Amounts go out as plain decimals (`"0.0000001"`, never `"1e-7"`, which the service rejects). */
function formatAmount(amount: number): string {
  const text = String(amount);
  if (!/e/i.test(text)) return text;
  if (Math.abs(amount) >= 1e21) return BigInt(Math.trunc(amount)).toString();
  return amount.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

function requireAmount(
  amount: unknown,
  featureId: string | undefined,
  rule: 'finite' | 'nonnegative',
): number {
  if (typeof amount !== 'number' || !Number.isFinite(amount) || (rule === 'nonnegative' && amount < 0)) {
    const want = rule === 'finite' ? 'a finite number' : 'a finite number ≥ 0';
    throw new InvalidAmountError(`The amount must be ${want}; got ${String(amount)}. Nothing was sent.`, {
      amount,
      featureId,
    });
  }
  return amount;
}

function requireId(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new ConfigurationError(`${name} must be a non-empty string; check the value passed.`);
  }
  return value;
}

/**
 * Creates the Licensario HTTP provider: an undici `Pool` with keep-alive, every answer checked
 * by zod, every id URL-encoded as one path segment, every call bounded by `timeoutMs` and
 * cancellable with an `AbortSignal`. Throws `ConfigurationError` at once for bad options.
 *
 * @example
 * import { licensarioProvider } from '@tollgate/core';
 *
 * const provider = licensarioProvider({
 *   baseUrl: 'http://localhost:4000',
 *   apiKey: process.env.TOLLGATE_API_KEY!,
 *   apiSecret: process.env.TOLLGATE_API_SECRET!,
 * });
 * const licenses = await provider.getLicenses({ externalUserId: 'u-42' }, { featureIds: ['sms'] });
 * await provider.close();
 */
export function licensarioProvider(options: LicensarioProviderOptions): LicensarioProvider {
  const config = resolveLicensarioOptions(options);
  const ownPool = config.dispatcher
    ? undefined
    : new Pool(config.origin, {
        connections: config.connections,
        keepAliveTimeout: config.keepAliveTimeoutMs,
        // Our own budget (an AbortSignal per call) bounds every call; undici's 300 s
        // defaults only matter if that somehow fails.
        headersTimeout: config.timeoutMs * 2,
        bodyTimeout: config.timeoutMs * 2,
      });
  const transport = createTransport(config, config.dispatcher ?? ownPool!);
  const secrets = [config.apiSecret];
  let closed = false;

  /** A hook that may turn a specific error answer into a more specific error. */
  type ErrorMapper = (status: number, body: WireErrorBody, cause: HttpError) => Error | undefined;

  async function send(request: ExchangeRequest, mapError?: ErrorMapper): Promise<ExchangeResponse> {
    if (closed) {
      throw new ClosedError(
        'This licensarioProvider is closed; create a new one with licensarioProvider() to keep working.',
      );
    }
    const response = await transport.exchange(request);
    if (response.status < 200 || response.status >= 300) {
      const body = readErrorBody(response.text);
      const error = httpError({
        status: response.status,
        text: response.text,
        method: request.method,
        path: response.path,
        secrets,
        body,
      });
      throw mapError?.(response.status, body, error) ?? error;
    }
    return response;
  }

  function invalid(
    request: ExchangeRequest,
    response: ExchangeResponse,
    problem: string,
    extra: { issues?: readonly unknown[]; cause?: unknown } = {},
  ) {
    return new InvalidResponseError(
      `Licensario answered ${request.method} ${response.path} with ${problem}: the service is not speaking the ` +
        'Licensario JSON format this client expects. Check that baseUrl points at a Tollgate/Licensario service ' +
        'and that client and service versions match.',
      extra,
    );
  }

  async function json<S extends z.ZodType>(
    request: ExchangeRequest,
    schema: S,
    mapError?: ErrorMapper,
  ): Promise<z.output<S>> {
    const response = await send(request, mapError);
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch (error) {
      throw invalid(
        request,
        response,
        `a body that is not JSON (content-type ${response.contentType ?? 'none'})`,
        {
          cause: error,
        },
      );
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const where = parsed.error.issues
        .slice(0, 3)
        .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
        .join('; ');
      throw invalid(request, response, `JSON of an unexpected shape (${where})`, {
        issues: parsed.error.issues,
        cause: parsed.error,
      });
    }
    return parsed.data;
  }

  /** A `409 exhausted` answer to a usage increment: nothing was charged. */
  const exhausted =
    (featureId: string, amount: number): ErrorMapper =>
    (status, body, cause) =>
      status === 409 && body.code === 'exhausted'
        ? new AllocationExhaustedError(
            `Not enough "${featureId}" left to use ${amount}: nothing was charged. Deny the request or offer an upgrade.`,
            { featureId, available: body.available },
            { cause },
          )
        : undefined;

  /** Set once the service said it has no batch endpoint: later batches fall back without asking. */
  let batchUnsupported = false;

  /** One request of the batch endpoint; `items` were validated by the caller. */
  async function adjustBatch(
    items: readonly AllocationAdjustment[],
    signal: AbortSignal | undefined,
  ): Promise<AdjustmentOutcome[]> {
    const request: ExchangeRequest = {
      method: 'POST',
      path: BATCH_PATH,
      body: {
        adjustments: items.map((item) => ({
          ...('userId' in item.subject
            ? { userId: item.subject.userId }
            : { externalUserId: item.subject.externalUserId }),
          featureId: item.featureId,
          amount: formatAmount(item.usage),
          ...(item.planId === undefined ? {} : { paymentPlanId: item.planId }),
          idempotencyKey: item.idempotencyKey,
        })),
      },
      signal,
    };
    let answer: z.output<typeof adjustmentResultsSchema>;
    try {
      answer = await json(request, adjustmentResultsSchema);
    } catch (error) {
      // The path carries no ids: a 404/405/501 can only mean the endpoint is not there.
      if (hasErrorCode(error, 'TOLLGATE_HTTP') && [404, 405, 501].includes((error as HttpError).status)) {
        batchUnsupported = true;
        throw new UnsupportedError(
          `The service at ${config.origin} has no ${BATCH_PATH} (it answered ${(error as HttpError).status}); usage is sent one adjustment per request instead.`,
          { cause: error },
        );
      }
      throw error;
    }
    if (answer.results.length !== items.length) {
      throw new InvalidResponseError(
        `Licensario answered POST ${BATCH_PATH} with ${answer.results.length} results for ${items.length} adjustments: ` +
          'none of them can be trusted. Check that client and service versions match.',
      );
    }
    return answer.results.map((result, i): AdjustmentOutcome => {
      if ('allocation' in result) return { ok: true, allocation: result.allocation };
      const item = items[i]!;
      const body: WireErrorBody = { code: result.code, message: result.message, available: result.available };
      const error = httpError({
        status: result.status,
        text: '',
        method: 'POST',
        path: allocPath(item.subject, item.featureId),
        secrets,
        body,
      });
      return { ok: false, error: exhausted(item.featureId, item.usage)(result.status, body, error) ?? error };
    });
  }

  function licensesPath(subject: Subject): string {
    return `${subjectPath(subject)}/licenses`;
  }

  function allocPath(subject: Subject, featureId: string): string {
    return `${subjectPath(subject)}/licenses/features/${segment(requireId('featureId', featureId))}/alloc`;
  }

  function licenseBody(planId: string, options: CreateLicenseOptions | undefined) {
    return { paymentPlanId: requireId('planId', planId), ...(options?.trial ? { trial: 'true' } : {}) };
  }

  return {
    async getLicenses(subject: Subject, query?: LicenseQuery, options?: CallOptions): Promise<License[]> {
      return json(
        {
          method: 'GET',
          path: licensesPath(subject),
          query: { featureIds: query?.featureIds, paymentPlanIds: query?.planIds },
          signal: options?.signal,
        },
        licenseListSchema,
      );
    },

    async createLicense(subject: Subject, planId: string, options?: CreateLicenseOptions): Promise<License> {
      return json(
        {
          method: 'POST',
          path: licensesPath(subject),
          body: licenseBody(planId, options),
          idempotencyKey: options?.idempotencyKey,
          signal: options?.signal,
        },
        licenseSchema,
      );
    },

    async ensureLicense(subject: Subject, planId: string, options?: CreateLicenseOptions): Promise<License> {
      return json(
        {
          method: 'PUT',
          path: licensesPath(subject),
          body: licenseBody(planId, options),
          idempotencyKey: options?.idempotencyKey,
          signal: options?.signal,
        },
        licenseSchema,
      );
    },

    async revokeLicense(licenseId: string, options?: WriteOptions & { reason?: string }): Promise<void> {
      await send({
        method: 'DELETE',
        path: `/api/v1/licenses/${segment(requireId('licenseId', licenseId))}`,
        query: { revokeReason: options?.reason },
        idempotencyKey: options?.idempotencyKey,
        signal: options?.signal,
      });
    },

    async getAllocation(
      subject: Subject,
      featureId: string,
      options?: AllocationOptions,
    ): Promise<Allocation> {
      return json(
        {
          method: 'GET',
          path: allocPath(subject, featureId),
          query: { paymentPlanId: options?.planId },
          signal: options?.signal,
        },
        allocationSchema,
      );
    },

    async setAllocation(
      subject: Subject,
      featureId: string,
      available: number,
      options?: AllocationOptions & WriteOptions,
    ): Promise<Allocation> {
      const amount = requireAmount(available, featureId, 'nonnegative');
      return json(
        {
          method: 'PUT',
          path: allocPath(subject, featureId),
          body: { amount: formatAmount(amount), paymentPlanId: options?.planId },
          idempotencyKey: options?.idempotencyKey,
          signal: options?.signal,
        },
        allocationSchema,
      );
    },

    async adjustAllocation(
      subject: Subject,
      featureId: string,
      usage: number,
      options?: AdjustAllocationOptions,
    ): Promise<Allocation> {
      const amount = requireAmount(usage, featureId, 'finite');
      if (options?.floor !== undefined && options.floor !== 0) {
        throw new ConfigurationError(`floor must be 0 or left out; got ${String(options.floor)}.`);
      }
      const request: ExchangeRequest = {
        method: 'POST',
        path: allocPath(subject, featureId),
        body: {
          amount: formatAmount(amount),
          paymentPlanId: options?.planId,
          ...(options?.floor === 0 ? { floor: '0' } : {}),
        },
        idempotencyKey: options?.idempotencyKey,
        signal: options?.signal,
      };
      return json(request, allocationSchema, exhausted(featureId, amount));
    },

    async adjustAllocations(
      adjustments: readonly AllocationAdjustment[],
      options?: CallOptions,
    ): Promise<AdjustmentOutcome[]> {
      // Checked before anything is sent, as the single call checks its arguments.
      for (const item of adjustments) {
        allocPath(item.subject, item.featureId);
        requireAmount(item.usage, item.featureId, 'finite');
        requireId('idempotencyKey', item.idempotencyKey);
      }
      if (batchUnsupported) {
        throw new UnsupportedError(
          `The service at ${config.origin} has no ${BATCH_PATH}; send one adjustAllocation per adjustment.`,
        );
      }
      const outcomes: AdjustmentOutcome[] = [];
      for (let start = 0; start < adjustments.length; start += MAX_BATCH) {
        const part = adjustments.slice(start, start + MAX_BATCH);
        outcomes.push(...(await adjustBatch(part, options?.signal)));
      }
      return outcomes;
    },

    async ensureExternalUser(externalUserId: string, email: string, options?: WriteOptions): Promise<void> {
      await send({
        method: 'PUT',
        path: subjectPath({ externalUserId: requireId('externalUserId', externalUserId) }),
        body: { email: requireId('email', email) },
        idempotencyKey: options?.idempotencyKey,
        signal: options?.signal,
      });
    },

    async getPlans(query?: { featureId?: string }, options?: CallOptions): Promise<Plan[]> {
      return json(
        {
          method: 'GET',
          path: '/api/v1/plans',
          query: { featureId: query?.featureId },
          signal: options?.signal,
        },
        planListSchema,
      );
    },

    async createWizardToken(externalUserId: string, options?: WriteOptions): Promise<string> {
      const request: ExchangeRequest = {
        method: 'POST',
        path: '/api/v1/wizards',
        body: { externalUserId: requireId('externalUserId', externalUserId) },
        idempotencyKey: options?.idempotencyKey,
        signal: options?.signal,
      };
      const response = await send(request);
      const parsed = wizardTokenSchema.safeParse(response.text);
      if (!parsed.success)
        throw invalid(request, response, 'an empty wizard token', { issues: parsed.error.issues });
      return parsed.data;
    },

    async logTransaction(transaction: TransactionInput, options?: WriteOptions): Promise<{ id: string }> {
      const amount = requireAmount(transaction.amount, undefined, 'finite');
      const subject = transaction.subject;
      return json(
        {
          method: 'PUT',
          path: '/api/v1/transactions',
          body: {
            uuid: requireId('uuid', transaction.uuid),
            licenseId:
              transaction.licenseId === undefined ? undefined : requireId('licenseId', transaction.licenseId),
            amount: formatAmount(amount),
            externalTransactionId: transaction.externalTransactionId,
            type: transaction.type ?? 'license',
            ...(subject && 'userId' in subject ? { userId: subject.userId } : {}),
            ...(subject && 'externalUserId' in subject ? { externalUserId: subject.externalUserId } : {}),
          },
          idempotencyKey: options?.idempotencyKey,
          signal: options?.signal,
        },
        transactionSchema,
      );
    },

    async getBalance(range?: BalanceRange, options?: CallOptions): Promise<{ balance: number }> {
      return json(
        {
          method: 'GET',
          path: '/api/v1/publisher/balance',
          query: {
            startDate: range?.from ? formatWireDate(range.from) : undefined,
            endDate: range?.to ? formatWireDate(range.to) : undefined,
          },
          signal: options?.signal,
        },
        balanceSchema,
      );
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await ownPool?.close();
    },
  };
}
