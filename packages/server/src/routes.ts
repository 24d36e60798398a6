/**
 * The endpoints (README, "Endpoints"): each handler turns parameters into one store call and
 * the store's answer into a reply. Handlers get a store bound to the request's transaction.
 */
import type { Subject } from '@tollgate/core';
import { batchAdjustHandler } from './batch.js';
import { parseLicensarioDate } from './dates.js';
import { formatAmount, parseAmount } from './decimal.js';
import type { Params } from './http/params.js';
import {
  allocationReply,
  jsonReply,
  licenseReply,
  licensesReply,
  type Reply,
  TEXT_TYPE,
} from './http/representation.js';
import { Router } from './http/router.js';
import { allocFingerprint } from './idempotency.js';
import type { Logger } from './logger.js';
import { ServiceError } from './service-error.js';
import type { Store } from './store/store.js';

/** What a handler sees. */
export interface RouteContext {
  store: Store;
  params: Params;
  path: Record<string, string>;
  format: 'json' | 'xml';
  /** The request body as text (also parsed into `params` unless the route has `rawBody`). */
  body: string;
  /** The request's `Content-Type` header, if any. */
  contentType: string | undefined;
  logger: Logger;
  /** Sign a wizard token for an external user. */
  signWizardToken(externalUserId: string): string;
}

/** How the HTTP layer treats a route's request (all optional; defaults suit most routes). */
export interface RouteOptions {
  /** Largest body accepted, in bytes. @default BODY_LIMIT_BYTES (64 KiB) */
  bodyLimit?: number;
  /** The body is the handler's own (`ctx.body`), not parameters. @default false */
  rawBody?: boolean;
  /**
   * The handler applies idempotency keys itself (the batch endpoint, per item): the request's
   * `Idempotency-Key` header is ignored and no transaction is opened around the handler.
   * @default false
   */
  ownIdempotency?: boolean;
  /** The request's idempotency fingerprint. @default method, raw path and parameters */
  fingerprint?(ctx: Pick<RouteContext, 'params' | 'path'>): string;
}

/** A route handler, with the {@link RouteOptions} it was registered with. */
export type Handler = ((ctx: RouteContext) => Promise<Reply>) & RouteOptions;

/**
 * A handler with options for the HTTP layer.
 *
 * @example
 * router.add('POST', '/api/v1/users/:id/features/:featureId/alloc', endpoint(handle, { fingerprint }));
 */
export function endpoint(handle: (ctx: RouteContext) => Promise<Reply>, options: RouteOptions): Handler {
  return Object.assign(handle, options);
}

const DAY_MS = 86_400_000;

function amountParam(params: Params): string {
  const raw = params.string('amount');
  if (raw === undefined) throw new ServiceError(400, 'invalid_request', 'Parameter "amount" is required.');
  const amount = parseAmount(raw);
  if (amount === undefined) {
    throw new ServiceError(
      400,
      'invalid_amount',
      `Parameter "amount" must be a finite decimal such as 25, 0.2 or -0.5 (got ${JSON.stringify(raw)}).`,
    );
  }
  return amount;
}

const optional = (value: string | undefined): string | undefined => (value === '' ? undefined : value);
const nonEmptyList = (values: string[] | undefined) =>
  values === undefined || values.length === 0 ? undefined : values;

function floorParam(params: Params): boolean {
  const raw = optional(params.string('floor'));
  if (raw === undefined) return false;
  if (parseAmount(raw) !== '0') {
    throw new ServiceError(
      400,
      'invalid_request',
      'Parameter "floor" supports only 0 (never let available go below 0).',
    );
  }
  return true;
}

/** The parameters of `POST $BASE/…/alloc` (and of a batch item) as a usage change. */
function readAdjustment(params: Params) {
  return {
    usage: amountParam(params),
    planId: optional(params.string('paymentPlanId')),
    floor: floorParam(params),
  };
}

/**
 * `POST $BASE/…/alloc` once the request is read: the usage increment and its reply. A batch
 * item applied on its own runs this same function.
 */
function adjustAllocationReply(store: Store, subject: Subject, featureId: string, params: Params) {
  const { usage, ...options } = readAdjustment(params);
  return store.adjustAllocation(subject, featureId, usage, options).then(allocationReply);
}

function subjectRoutes(router: Router<Handler>, base: string, subjectOf: (id: string) => Subject): void {
  router
    .add('GET', `${base}/licenses`, async ({ store, params, path, format }) => {
      const licenses = await store.listLicenses(subjectOf(path.id!), {
        featureIds: nonEmptyList(params.list('featureIds')),
        planIds: nonEmptyList(params.list('paymentPlanIds')),
      });
      return licensesReply(licenses, format);
    })
    .add('POST', `${base}/licenses`, async ({ store, params, path, format }) => {
      const license = await store.createLicense(subjectOf(path.id!), params.required('paymentPlanId'), {
        trial: params.boolean('trial') === true,
      });
      return licenseReply(201, license, format);
    })
    .add('PUT', `${base}/licenses`, async ({ store, params, path, format }) => {
      const { license, created } = await store.ensureLicense(
        subjectOf(path.id!),
        params.required('paymentPlanId'),
        {
          trial: params.boolean('trial') === true,
        },
      );
      return licenseReply(created ? 201 : 200, license, format);
    })
    .add('PUT', base, async ({ store, params, path }) => {
      const subject = subjectOf(path.id!);
      const userId = await store.ensureUser(subject, optional(params.string('email')));
      return jsonReply(200, {
        userId,
        ...('externalUserId' in subject ? { externalUserId: subject.externalUserId } : {}),
      });
    });

  // Both alloc paths: the document's `$BASE/licenses/features/…` and its example's `$BASE/features/…`.
  // Writes are fingerprinted by subject and feature, not by path spelling (idempotency.ts).
  const allocWrite = (method: string) => ({
    fingerprint: ({ params, path }: Pick<RouteContext, 'params' | 'path'>) =>
      allocFingerprint(method, subjectOf(path.id!), path.featureId!, params),
  });
  for (const allocPath of [
    `${base}/licenses/features/:featureId/alloc`,
    `${base}/features/:featureId/alloc`,
  ]) {
    router
      .add('GET', allocPath, async ({ store, params, path }) =>
        allocationReply(
          await store.getAllocation(subjectOf(path.id!), path.featureId!, {
            planId: optional(params.string('paymentPlanId')),
          }),
        ),
      )
      .add(
        'PUT',
        allocPath,
        endpoint(
          async ({ store, params, path }) =>
            allocationReply(
              await store.setAllocation(subjectOf(path.id!), path.featureId!, amountParam(params), {
                planId: optional(params.string('paymentPlanId')),
              }),
            ),
          allocWrite('PUT'),
        ),
      )
      .add(
        'POST',
        allocPath,
        endpoint(
          ({ store, params, path }) =>
            adjustAllocationReply(store, subjectOf(path.id!), path.featureId!, params),
          allocWrite('POST'),
        ),
      );
  }
}

/**
 * The router with every endpoint. External-user routes come first so `/users/external/…`
 * is never read as the user called "external".
 *
 * @example
 * const match = createRoutes().match('GET', ['api', 'v1', 'plans']);
 */
export function createRoutes(): Router<Handler> {
  const router = new Router<Handler>();
  subjectRoutes(router, '/api/v1/users/external/:id', (id) => ({ externalUserId: id }));
  subjectRoutes(router, '/api/v1/users/:id', (id) => ({ userId: id }));
  router
    .add('DELETE', '/api/v1/licenses/:id', async ({ store, params, path }) => {
      await store.revokeLicense(path.id!, optional(params.string('revokeReason')));
      return jsonReply(200, { licenseId: path.id, revoked: true });
    })
    .add('POST', '/api/v1/wizards', async ({ store, params, signWizardToken }) => {
      const externalUserId = params.required('externalUserId');
      await store.ensureUser({ externalUserId });
      return { status: 200, contentType: TEXT_TYPE, body: signWizardToken(externalUserId) };
    })
    .add('PUT', '/api/v1/transactions', async ({ store, params }) => {
      const type = params.required('type');
      if (type !== 'license' && type !== 'refund') {
        throw new ServiceError(400, 'invalid_request', 'Parameter "type" must be "license" or "refund".');
      }
      const userId = optional(params.string('userId'));
      const externalUserId = optional(params.string('externalUserId'));
      if (userId !== undefined && externalUserId !== undefined) {
        throw new ServiceError(400, 'invalid_request', 'Give "userId" or "externalUserId", not both.');
      }
      const licenseId = optional(params.string('licenseId'));
      const externalTransactionId = optional(params.string('externalTransactionId'));
      const id = await store.recordTransaction({
        uuid: params.required('uuid'),
        amount: amountParam(params),
        type,
        ...(licenseId === undefined ? {} : { licenseId }),
        ...(externalTransactionId === undefined ? {} : { externalTransactionId }),
        ...(userId === undefined ? {} : { userId }),
        ...(externalUserId === undefined ? {} : { externalUserId }),
      });
      return jsonReply(200, { id });
    })
    .add('GET', '/api/v1/publisher/balance', async ({ store, params }) => {
      const date = (name: string): number | undefined => {
        const raw = optional(params.string(name));
        if (raw === undefined) return undefined;
        const ms = parseLicensarioDate(raw);
        if (ms === undefined) {
          throw new ServiceError(
            400,
            'invalid_request',
            `Parameter "${name}" must be a date as yyyymmddHHMMSS (UTC).`,
          );
        }
        return ms;
      };
      const end = date('endDate') ?? store.now();
      const start = date('startDate') ?? end - 30 * DAY_MS;
      return jsonReply(200, { balance: formatAmount(await store.balance(start, end)) });
    })
    .add('GET', '/api/v1/plans', async ({ store, params }) => {
      const featureId = optional(params.string('featureId'));
      const plans = store.catalog.plans.filter(
        (p) => featureId === undefined || Object.hasOwn(p.features, featureId),
      );
      return jsonReply(200, { plans });
    })
    .add('POST', '/api/v1/allocations/batch', batchAdjustHandler(readAdjustment, adjustAllocationReply));
  return router;
}
