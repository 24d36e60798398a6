/**
 * Idempotency keys (README, "Extensions"): what identifies a request for its key (the
 * fingerprint), and running a write under a key. Shared by the `Idempotency-Key` header of a
 * single request and the `idempotencyKey` of a batch item, so the two cannot drift apart.
 */
import { createHash } from 'node:crypto';
import type { Subject } from '@tollgate/core';
import type { Params } from './http/params.js';
import type { Reply } from './http/representation.js';
import { ServiceError } from './service-error.js';
import type { Store } from './store/store.js';

/** Longest accepted idempotency key. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * `400 invalid_request` when a key is longer than {@link MAX_IDEMPOTENCY_KEY_LENGTH}; `name` is
 * how the request carried it (`Idempotency-Key`, `"idempotencyKey"`).
 *
 * @example
 * checkIdempotencyKey(req.headers['idempotency-key'], 'Idempotency-Key');
 */
export function checkIdempotencyKey(key: string, name: string): void {
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new ServiceError(
      400,
      'invalid_request',
      `${name} is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`,
    );
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The default fingerprint: method, raw path (as sent) and the merged parameters.
 *
 * @example
 * requestFingerprint('POST', '/api/v1/users/external/42/licenses', params);
 */
export function requestFingerprint(method: string, rawPath: string, params: Params): string {
  return sha256(`${method} ${rawPath}\n${params.canonical()}`);
}

/**
 * The fingerprint of an alloc write (`PUT`/`POST $BASE/…/alloc`, and a batch item, which is a
 * `POST`): the decoded subject and feature rather than the raw path, so both alloc path
 * spellings, any percent-encoding of the ids, and the batch item all give one fingerprint for
 * one adjustment. A key first used in a batch and retried alone (or the reverse) is a replay.
 *
 * @example
 * allocFingerprint('POST', { externalUserId: '42' }, 'sms', params);
 */
export function allocFingerprint(
  method: string,
  subject: Subject,
  featureId: string,
  params: Params,
): string {
  const who = 'userId' in subject ? ['userId', subject.userId] : ['externalUserId', subject.externalUserId];
  return sha256(`${method} alloc\n${JSON.stringify([...who, featureId])}\n${params.canonical()}`);
}

/**
 * Run `run` under an idempotency key: the claim of the key, the write and the stored answer
 * share one transaction, so all happen or none does, and a concurrent request with the same
 * key waits on the record's unique index. A key already used with the same fingerprint
 * replays the stored answer (`replayed: true`) without running again; with another
 * fingerprint it is `422 idempotency_mismatch`. A refusal (a thrown `ServiceError`) rolls the
 * claim back, so only successful answers are kept.
 *
 * @example
 * const reply = await runIdempotent(store, key, fingerprint, (tx) => handler({ ...ctx, store: tx }));
 */
export function runIdempotent(
  store: Store,
  key: string,
  fingerprint: string,
  run: (tx: Store) => Promise<Reply>,
): Promise<Reply & { replayed?: boolean }> {
  return store.transaction(async (tx) => {
    const claim = await tx.claimIdempotencyKey(key, fingerprint);
    if (claim.kind === 'replay') return { ...claim.response, replayed: true };
    if (claim.kind === 'mismatch') {
      throw new ServiceError(
        422,
        'idempotency_mismatch',
        'This Idempotency-Key was used with a different request; use a new key for a new request.',
      );
    }
    const reply = await run(tx);
    await tx.completeIdempotencyKey(key, reply);
    return reply;
  });
}
