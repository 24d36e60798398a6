/**
 * `POST /api/v1/allocations/batch` (ours; README, "Extensions"): many usage adjustments in one
 * request, so a client's batched meter flushes many (subject, feature) keys at once. Each item
 * answers exactly as the single `POST $BASE/features/:featureId/alloc` with its
 * `Idempotency-Key` would: the same parameters, refusals and fingerprint.
 */
import type { Subject } from '@tollgate/core';
import { Params, parseJsonParams } from './http/params.js';
import { allocationReply, jsonReply, type Reply } from './http/representation.js';
import { allocFingerprint, checkIdempotencyKey, runIdempotent } from './idempotency.js';
import type { Logger } from './logger.js';
import type { Handler, RouteContext } from './routes.js';
import { ServiceError } from './service-error.js';
import type { Store, UsageChange } from './store/store.js';

/** Largest batch body; other endpoints keep `BODY_LIMIT_BYTES` (64 KiB). */
export const BATCH_BODY_LIMIT_BYTES = 1024 * 1024;
/** Most items in one batch. */
export const MAX_BATCH_ITEMS = 1000;

const BATCH_PATH = '/api/v1/allocations/batch';

/** The single alloc POST once read: what an item runs when it is applied on its own. */
export type AdjustReply = (
  store: Store,
  subject: Subject,
  featureId: string,
  params: Params,
) => Promise<Reply>;

/** The single alloc POST's parameters as a usage change; throws that request's `400`s. */
export type ReadAdjustment = (params: Params) => Pick<UsageChange, 'usage' | 'planId' | 'floor'>;

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
  /** The single request's fingerprint (only needed with a key). */
  fingerprint: string | undefined;
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
  const subject: Subject = userId !== undefined ? { userId } : { externalUserId: externalUserId! };
  return {
    subject,
    featureId,
    params,
    idempotencyKey,
    fingerprint:
      idempotencyKey === undefined ? undefined : allocFingerprint('POST', subject, featureId, params),
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

function replyResult(reply: Reply & { replayed?: boolean }): BatchResult {
  return {
    status: reply.status,
    allocation: JSON.parse(reply.body) as unknown,
    ...(reply.replayed === true ? { replayed: true as const } : {}),
  };
}

/** An item's failure as its result; what is not a refusal is logged as the server logs 500s. */
function failureResult(error: unknown, index: number, logger: Logger): BatchResult {
  if (error instanceof ServiceError) return errorResult(error);
  // Never parameters, ids or credentials.
  logger.error({ err: error, method: 'POST', path: BATCH_PATH, item: index }, 'batch item failed');
  return { status: 500, code: 'internal', message: 'Internal error; the service log has the details.' };
}

/**
 * The common items of a batch applied together, in one transaction of a few statements (see
 * `Store.adjustAllocations`): their keys claimed at once, the changes applied at once, the
 * answers stored at once. Returns the results of the items applied. Everything else is left to
 * {@link applyAlone}, in order, with the same outcome as if the whole batch had run item by
 * item: an item whose parameters do not read (its own run reports the error), a key already
 * used (a replay or a mismatch) or repeated in the batch, an item that shares an allocation
 * with another, needs a decision over several licences, or is refused by the floor.
 */
async function applyTogether(
  store: Store,
  items: readonly (BatchItem | undefined)[],
  read: ReadAdjustment,
): Promise<Map<number, BatchResult>> {
  const changes: UsageChange[] = [];
  const owner: number[] = [];
  const claims: { key: string; fingerprint: string; change: number }[] = [];
  const keys = new Set<string>();
  for (const [index, item] of items.entries()) {
    if (item === undefined) continue;
    const key = item.idempotencyKey;
    const repeated = key !== undefined && keys.has(key);
    if (key !== undefined) keys.add(key);
    let change: Pick<UsageChange, 'usage' | 'planId' | 'floor'>;
    try {
      change = read(item.params);
    } catch {
      // Not lost: applyAlone reads it again and answers with the error. Its key still counts
      // as used first, so a later item with the key waits for that answer, as it would in order.
      continue;
    }
    if (key !== undefined && !repeated) {
      claims.push({ key, fingerprint: item.fingerprint!, change: changes.length });
    }
    // A repeated key is deferred, not dropped: its rows must count as touched.
    changes.push({ subject: item.subject, featureId: item.featureId, ...change, deferred: repeated });
    owner.push(index);
  }
  if (changes.length === 0) return new Map();
  return store.transaction(async (tx) => {
    const claimed = await tx.claimNewIdempotencyKeys(claims);
    for (const claim of claims) if (!claimed.has(claim.key)) changes[claim.change]!.deferred = true;
    const after = await tx.adjustAllocations(changes);
    const applied = new Map<number, BatchResult>();
    const answers: { key: string; response: Reply }[] = [];
    for (const [c, amounts] of after.entries()) {
      if (amounts === undefined) continue;
      const reply = allocationReply(amounts);
      applied.set(owner[c]!, replyResult(reply));
      const key = items[owner[c]!]!.idempotencyKey;
      if (key !== undefined && claimed.has(key)) answers.push({ key, response: reply });
    }
    await tx.completeIdempotencyKeys(answers);
    await tx.releaseIdempotencyKeys(
      claims.filter((claim) => claimed.has(claim.key) && after[claim.change] === undefined).map((c) => c.key),
    );
    return applied;
  });
}

/** One item exactly as the single request: its own transaction, its key, its refusals. */
async function applyAlone(store: Store, adjust: AdjustReply, item: BatchItem): Promise<BatchResult> {
  const { subject, featureId, params, idempotencyKey, fingerprint } = item;
  const run = (tx: Store) => adjust(tx, subject, featureId, params);
  return replyResult(
    idempotencyKey === undefined
      ? await run(store)
      : await runIdempotent(store, idempotencyKey, fingerprint!, run),
  );
}

/**
 * The batch handler over the single alloc POST. The result is what running the items one
 * after the other, in order, each as its single request, would give, and one failing never
 * stops the others; the common items (one licence, one item per allocation, a new key or none)
 * are applied together in one transaction first, so a batch costs a few statements rather
 * than four per item. The request's own `Idempotency-Key` header is ignored: the items carry
 * the keys.
 *
 * @example
 * router.add('POST', '/api/v1/allocations/batch', batchAdjustHandler(readAdjustment, adjustAllocationReply));
 */
export function batchAdjustHandler(read: ReadAdjustment, adjust: AdjustReply): Handler {
  const handle = async ({ store, body, contentType, logger }: RouteContext): Promise<Reply> => {
    const items = parseBatch(contentType, body).map((raw) => {
      try {
        return { item: parseItem(raw) };
      } catch (error) {
        return { error };
      }
    });
    let applied: Map<number, BatchResult>;
    try {
      applied = await applyTogether(
        store,
        items.map((parsed) => parsed.item),
        read,
      );
    } catch (error) {
      // Rolled back whole, so nothing was applied twice; each item now runs alone.
      logger.warn({ err: error, method: 'POST', path: BATCH_PATH }, 'batch applied item by item');
      applied = new Map();
    }
    const results: BatchResult[] = [];
    for (const [index, parsed] of items.entries()) {
      const done = applied.get(index);
      if (done !== undefined) {
        results.push(done);
        continue;
      }
      try {
        if (parsed.item === undefined) throw parsed.error;
        results.push(await applyAlone(store, adjust, parsed.item));
      } catch (error) {
        results.push(failureResult(error, index, logger));
      }
    }
    return jsonReply(200, { results });
  };
  return Object.assign(handle, {
    bodyLimit: BATCH_BODY_LIMIT_BYTES,
    rawBody: true,
    ownIdempotency: true,
  });
}
