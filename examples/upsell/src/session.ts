/**
 * "Signed in as" for the demo: the user id in a cookie. No passwords, no signatures: the
 * demo users are public and the cookie only picks one of them (unknown ids count as signed
 * out). HttpOnly keeps it from page scripts; SameSite=Lax keeps it off cross-site POSTs, so
 * another site cannot submit the upgrade form as the signed-in user.
 */
import type { Request, Response } from 'express';
import { type DemoUser, findDemoUser } from './demo-users.js';

/**
 * Name of the cookie that holds the demo user id.
 *
 * @example
 * request(url).get('/reports').set('Cookie', `${SESSION_COOKIE}=carol`);
 */
export const SESSION_COOKIE = 'tollgate_demo_user';

/**
 * The signed-in demo user, if the request's cookie names one.
 *
 * @example
 * const user = currentUser(req); // DemoUser | undefined
 */
export function currentUser(req: Request): DemoUser | undefined {
  return findDemoUser(readCookie(req.headers.cookie, SESSION_COOKIE));
}

/**
 * Signs the response's browser in as `user` (or out, with `undefined`).
 *
 * @example
 * signIn(res, findDemoUser('alice'));
 */
export function signIn(res: Response, user: DemoUser | undefined): void {
  const value = user === undefined ? '' : encodeURIComponent(user.id);
  const maxAge = user === undefined ? '; Max-Age=0' : '';
  res.append('Set-Cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax${maxAge}`);
}

/** The value of one cookie in a `Cookie` header (RFC 6265 §5.4), or `undefined`. */
function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}
