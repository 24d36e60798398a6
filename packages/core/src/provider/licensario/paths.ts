/**
 * Request paths of the Licensario API. Every id is one URL-encoded path segment, so an id such
 * as `a/b c?` can neither climb to another route nor start a query string.
 */
import { ConfigurationError } from '../../errors.js';
import type { Subject } from '../../types.js';

/**
 * Encodes one path segment. `encodeURIComponent` leaves `.` alone, so the ids `.` and `..`
 * would be resolved away by URL normalisation on the way: they are percent-encoded too.
 *
 * @example
 * segment('a/b c?'); // 'a%2Fb%20c%3F'
 */
export function segment(id: string): string {
  if (id === '.' || id === '..') return id.replaceAll('.', '%2E');
  return encodeURIComponent(id);
}

/**
 * The base path of a subject: `/api/v1/users/:user_id` or
 * `/api/v1/users/external/:external_user_id` (shared/DESIGN.md §1).
 *
 * @example
 * subjectPath({ externalUserId: 'u 1' }); // '/api/v1/users/external/u%201'
 */
export function subjectPath(subject: Subject): string {
  if (typeof subject === 'object' && subject !== null) {
    if ('userId' in subject && typeof subject.userId === 'string' && subject.userId !== '') {
      return `/api/v1/users/${segment(subject.userId)}`;
    }
    if (
      'externalUserId' in subject &&
      typeof subject.externalUserId === 'string' &&
      subject.externalUserId !== ''
    ) {
      return `/api/v1/users/external/${segment(subject.externalUserId)}`;
    }
  }
  throw new ConfigurationError(
    'A subject must be { userId } or { externalUserId } with a non-empty string id; check what your subject() function returns.',
  );
}
