/**
 * Wizard tokens (shared/seeds/licensario-js-wizard.md, "Server side preparation"): the app
 * asks the service for a short-lived token naming the user, hands it to the browser, and the
 * upgrade page proves with it which user it acts for. HMAC-SHA256 over `{ sub, exp }`, with a
 * secret generated once and kept in the store so every node (and every restart) agrees.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TollgateError } from '@tollgate/core';

/**
 * A wizard token that is malformed, forged or expired (code `TOLLGATE_INVALID_TOKEN`).
 *
 * @example
 * try { server.verifyWizardToken(token); } catch (e) { if (e instanceof WizardTokenError && e.reason === 'expired') restart(); }
 */
export class WizardTokenError extends TollgateError {
  readonly reason: 'malformed' | 'bad_signature' | 'expired';
  constructor(message: string, reason: WizardTokenError['reason']) {
    super('TOLLGATE_INVALID_TOKEN', message);
    this.name = 'WizardTokenError';
    this.reason = reason;
  }
}

/**
 * A fresh random signing secret (hex).
 *
 * @example
 * const secret = generateWizardSecret(); // 64 hex characters
 */
export function generateWizardSecret(): string {
  return randomBytes(32).toString('hex');
}

const sign = (secret: string, payload: string): Buffer =>
  createHmac('sha256', secret).update(payload).digest();

/**
 * Sign a token naming `externalUserId`, valid until `expiresAt` (epoch ms).
 *
 * @example
 * const token = signWizardToken(secret, '42', Date.now() + 600_000);
 */
export function signWizardToken(secret: string, externalUserId: string, expiresAt: number): string {
  const payload = Buffer.from(JSON.stringify({ sub: externalUserId, exp: expiresAt })).toString('base64url');
  return `${payload}.${sign(secret, payload).toString('base64url')}`;
}

/**
 * The external user id a token names; throws `WizardTokenError` when it is malformed, not
 * signed with `secret`, or expired at `now`.
 *
 * @example
 * const externalUserId = verifyWizardToken(secret, token, Date.now());
 */
export function verifyWizardToken(secret: string, token: string, now: number): string {
  const [payload, signature, extra] = token.split('.');
  if (payload === undefined || signature === undefined || extra !== undefined || payload === '') {
    throw new WizardTokenError(
      'Malformed wizard token; request a new one with POST /api/v1/wizards.',
      'malformed',
    );
  }
  const expected = sign(secret, payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new WizardTokenError(
      'Wizard token signature does not match; it was not issued by this service.',
      'bad_signature',
    );
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new WizardTokenError(
      'Malformed wizard token; request a new one with POST /api/v1/wizards.',
      'malformed',
    );
  }
  const { sub, exp } = (claims ?? {}) as { sub?: unknown; exp?: unknown };
  if (typeof sub !== 'string' || typeof exp !== 'number') {
    throw new WizardTokenError(
      'Malformed wizard token; request a new one with POST /api/v1/wizards.',
      'malformed',
    );
  }
  if (exp <= now) {
    throw new WizardTokenError(
      'Wizard token expired; request a new one with POST /api/v1/wizards.',
      'expired',
    );
  }
  return sub;
}
