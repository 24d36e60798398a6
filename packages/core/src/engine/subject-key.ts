/** Stable string keys for subjects, used in cache and meter keys. */
import type { Subject } from '../types.js';

/**
 * `u:<userId>` or `e:<externalUserId>`; `undefined` when the value is not a usable subject.
 *
 * @example
 * subjectKey({ externalUserId: '42' }); // 'e:42'
 */
export function subjectKey(subject: Subject | null | undefined): string | undefined {
  const userId = userIdOf(subject);
  if (userId !== undefined) return `u:${userId}`;
  const externalUserId = externalUserIdOf(subject);
  return externalUserId === undefined ? undefined : `e:${externalUserId}`;
}

/**
 * The `userId` a subject is keyed by (`u:<userId>`), if it has a usable one.
 *
 * @example
 * userIdOf({ userId: 'u1' }); // 'u1'
 */
export function userIdOf(subject: Subject | null | undefined): string | undefined {
  if (typeof subject !== 'object' || subject === null || !('userId' in subject)) return undefined;
  const id = subject.userId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * The `externalUserId` a subject is keyed by (`e:<externalUserId>`) when it has no usable
 * `userId` (see {@link userIdOf}, which wins), if it has a usable one.
 *
 * @example
 * externalUserIdOf({ externalUserId: '42' }); // '42'
 */
export function externalUserIdOf(subject: Subject | null | undefined): string | undefined {
  if (typeof subject !== 'object' || subject === null || !('externalUserId' in subject)) return undefined;
  const id = subject.externalUserId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}
