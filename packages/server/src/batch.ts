/**
 * `POST /api/v1/allocations/batch` (ours; README, "Extensions"): many usage adjustments in one
 * request, so a client's batched meter flushes many (subject, feature) keys at once. Each item
 * is applied exactly as the single `POST $BASE/features/:featureId/alloc` with its
 * `Idempotency-Key` would be: the same handler, its own transaction, the same fingerprint.
 */
import type { Subject } from '@tollgate/core';
import { Params, parseJsonParams } from './http/params.js';
import { jsonReply, type Reply } from './http/representation.js';
import { allocFingerprint, checkIdempotencyKey, runIdempotent } from './idempotency.js';
import type { Logger } from './logger.js';
import type { Handler, RouteContext } from './routes.js';
import { ServiceError } from './service-error.js';
import type { Store } from './store/store.js';

/** Largest batch body; other endpoints keep `BODY_LIMIT_BYTES` (64 KiB). */
export const BATCH_BODY_LIMIT_BYTES = 1024 * 1024;
/** Most items in one batch. */
export const MAX_BATCH_ITEMS = 1000;

const BATCH_PATH = '/api/v1/allocations/batch';

/** The single alloc POST once read: what each item runs. */
export type AdjustReply = (
  store: Store,
  subject: Subject,
  featureId: string,
  params: Params,
) => Promise<Reply>;

/** One item's answer in `{ "results": [ … ] }`. */
export type BatchResult =
  | { status: number; allocation: unknown; replayed?: true }
  | { status: number; code: string; message: string; available?: number };

interface BatchItem {
  subject: Subject;
  featureId: string;
  /** What the single request would carry as parameters (its JSON body). */
  params: Params;
  idempotencyKey: string | undefined;
}

const invalid = (message: string) => new ServiceError(400, 'invalid_request', message);

/** The `adjustments` array; whole-request problems are `400 invalid_request`. */
function parseBatch(contentType: string | undefined, text: string): unknown[] {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    throw invalid(`Unsupported Content-Type "${type}"; send the batch as application/json.`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid('The body is not valid JSON.');
  }
  const adjustments =
    typeof body === 'object' && body !== null ? (body as { adjustments?: unknown }).adjustments : undefined;
  if (!Array.isArray(adjustments)) {
    throw invalid('The body must be a JSON object { "adjustments": [ … ] }.');
  }
  if (adjustments.length === 0) {
    throw invalid(`"adjustments" is empty; send 1 to ${MAX_BATCH_ITEMS} adjustments.`);
  }
  if (adjustments.length > MAX_BATCH_ITEMS) {
    throw invalid(
      `"adjustments" has ${adjustments.length} items; send at most ${MAX_BATCH_ITEMS} per request.`,
    );
  }
  return adjustments;
}

/** An optional string field: `undefined` when absent or null, `400` when not a string. */
function stringField(item: Record<string, unknown>, name: string): string | undefined {
  const value = item[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`"${name}" must be a string.`);
  return value;
}

/**
 * One item's subject, feature, parameters and key; what the single request has in its path and
 * header is checked here, the parameters (`amount`, `floor`) by the alloc handler as usual.
 */
function parseItem(raw: unknown): BatchItem {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid('An adjustment must be a JSON object.');
  }
  const item = raw as Record<string, unknown>;
  const userId = stringField(item, 'userId');
  const externalUserId = stringField(item, 'externalUserId');
  if (userId !== undefined && externalUserId !== undefined) {
    throw invalid('Give "userId" or "externalUserId", not both.');
  }
  if (userId === undefined && externalUserId === undefined) {
    throw invalid('"userId" or "externalUserId" is required.');
  }
  if (userId === '' || externalUserId === '') {
    throw invalid(`"${userId === '' ? 'userId' : 'externalUserId'}" must be a non-empty string.`);
  }
  const featureId = stringField(item, 'featureId');
  if (featureId === undefined || featureId === '') {
    throw invalid('"featureId" is required (a non-empty string).');
  }
  // An empty key is no key, as for an empty `Idempotency-Key` header.
  const idempotencyKey = stringField(item, 'idempotencyKey') || undefined;
  if (idempotencyKey !== undefined) checkIdempotencyKey(idempotencyKey, '"idempotencyKey"');
  // Exactly the parameters of the single request's JSON body (absent/null = not given), so
  // `params.canonical()`, and with it the fingerprint, is the same as the single request's.
  const params = new Params(
    parseJsonParams({ amount: item.amount, paymentPlanId: item.paymentPlanId, floor: item.floor }),
  );
  return {
    subject: userId !== undefined ? { userId } : { externalUserId: externalUserId! },
    featureId,
    params,
    idempotencyKey,
  };
}

function errorResult(error: ServiceError): BatchResult {
  return {
    status: error.status,
    code: error.code,
    message: error.message,
    ...(error.available === undefined ? {} : { available: Number(error.available) }),
  };
}

async function applyItem(
  store: Store,
  adjust: AdjustReply,
  raw: unknown,
  index: number,
  logger: Logger,
): Promise<BatchResult> {
  try {
    const { subject, featureId, params, idempotencyKey } = parseItem(raw);
    const run = (tx: Store) => adjust(tx, subject, featureId, params);
    const reply: Reply & { replayed?: boolean } =
      idempotencyKey === undefined
        ? await run(store)
        : await runIdempotent(
            store,
            idempotencyKey,
            allocFingerprint('POST', subject, featureId, params),
            run,
          );
    return {
      status: reply.status,
      allocation: JSON.parse(reply.body) as unknown,
      ...(reply.replayed === true ? { replayed: true as const } : {}),
    };
  } catch (error) {
    if (error instanceof ServiceError) return errorResult(error);
    // As the server logs other 500s: never parameters, ids or credentials.
    logger.error({ err: error, method: 'POST', path: BATCH_PATH, item: index }, 'batch item failed');
    return { status: 500, code: 'internal', message: 'Internal error; the service log has the details.' };
  }
}

/**
 * The batch handler over the single alloc POST's `adjust`. Items run one after the other, in
 * order, each in its own transaction; one failing never stops the others. The request's own
 * `Idempotency-Key` header is ignored: the items carry the keys.
 *
 * @example
 * router.add('POST', '/api/v1/allocations/batch', batchAdjustHandler(adjustAllocationReply));
 */
export function batchAdjustHandler(adjust: AdjustReply): Handler {
  const handle = async ({ store, body, contentType, logger }: RouteContext): Promise<Reply> => {
    const adjustments = parseBatch(contentType, body);
    const results: BatchResult[] = [];
    for (const [index, raw] of adjustments.entries()) {
      results.push(await applyItem(store, adjust, raw, index, logger));
    }
    return jsonReply(200, { results });
  };
  return Object.assign(handle, {
    bodyLimit: BATCH_BODY_LIMIT_BYTES,
    rawBody: true,
    ownIdempotency: true,
  });
}
