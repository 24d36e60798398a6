/** Stable string keys for subjects, used in cache and meter keys. */
import type { Subject } from '../types.js';

/**
 * `u:<userId>` or `e:<externalUserId>`; `undefined` when the value is not a usable subject.
 *
 * @example
 * subjectKey({ externalUserId: '42' }); // 'e:42'
 */
export function subjectKey(subject: Subject | null | undefined): string | undefined {
  if (typeof subject !== 'object' || subject === null) return undefined;
  if ('userId' in subject && typeof subject.userId === 'string' && subject.userId !== '') {
    return `u:${subject.userId}`;
  }
  if (
    'externalUserId' in subject &&
    typeof subject.externalUserId === 'string' &&
    subject.externalUserId !== ''
  ) {
    return `e:${subject.externalUserId}`;
  }
  return undefined;
}
