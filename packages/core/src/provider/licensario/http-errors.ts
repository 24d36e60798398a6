/**
 * Turns a non-2xx answer into a typed error whose message says what to do about it
 * (the codes are the service's, packages/server/README.md "Error codes").
 */
import { HttpError } from '../../errors.js';
import { errorBodySchema, type WireErrorBody } from './wire-schemas.js';

/** Reads the JSON error body if there is one; an HTML page from a proxy gives `{}`. */
export function readErrorBody(text: string): WireErrorBody {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

function advice(status: number, code: string | undefined): string {
  switch (code) {
    case 'unauthorized':
      return 'check the apiKey and apiSecret passed to licensarioProvider() against the keys the service was started with';
    case 'unknown_plan':
      return "the plan is not in the service's catalog: check the planId (getPlans() lists the catalog)";
    case 'unknown_license':
      return 'no such licence, or it was already revoked: check the licence id';
    case 'no_license':
      return 'no active licence grants this feature to this subject: create one with createLicense()/ensureLicense() first';
    case 'not_found':
      return "the service has no such endpoint: check that baseUrl is the service's root (e.g. http://localhost:4000)";
    case 'trial_used':
      return 'this subject already had a trial of this plan: create a paid licence instead';
    case 'no_trial':
      return 'this plan offers no trial: create a licence without trial, or add trialDays to the plan in the catalog';
    case 'idempotency_mismatch':
      return 'the Idempotency-Key was already used for a different request: use a new key for a new request';
    case 'invalid_amount':
      return 'pass a finite decimal amount';
    case 'payload_too_large':
      return 'send fewer or shorter parameters';
    default:
      break;
  }
  if (status === 401 || status === 403) {
    return 'check the apiKey and apiSecret passed to licensarioProvider() against the keys the service was started with';
  }
  if (status === 400 || status === 422) return 'check the arguments of this call';
  if (status === 404) return "check the ids in this call and that baseUrl is the service's root";
  if (status === 429) return 'the service is rate limiting: slow down and retry later';
  if (status >= 500) return "the service failed: retry later and check the service's logs";
  if (status >= 300 && status < 400) {
    return 'the service answered a redirect, which this client does not follow: check baseUrl (http vs https, path)';
  }
  return "check the service's logs";
}

/** Keeps a service message short and free of the credentials, whatever the service echoed. */
export function sanitize(text: string, secrets: readonly string[]): string {
  let clean = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  for (const secret of secrets) {
    if (secret) clean = clean.split(secret).join('[redacted]');
  }
  return clean;
}

/**
 * Builds the `HttpError` for a non-2xx answer.
 *
 * @example
 * const error = httpError({ status: 404, text: '{"code":"unknown_plan"}', method: 'POST', path: '/api/v1/users/1/licenses', secrets: [] });
 * error.serviceCode; // 'unknown_plan'
 */
export function httpError(details: {
  status: number;
  text: string;
  method: string;
  path: string;
  secrets: readonly string[];
  body?: WireErrorBody;
}): HttpError {
  const body = details.body ?? readErrorBody(details.text);
  const code = body.code;
  const said = body.message ? `: "${sanitize(body.message, details.secrets)}"` : '';
  const message =
    `Licensario answered ${details.status}${code ? ` ${code}` : ''} to ${details.method} ${details.path}${said}. ` +
    `What to do: ${advice(details.status, code)}.`;
  return new HttpError(message, {
    status: details.status,
    serviceCode: code,
    method: details.method,
    path: details.path,
  });
}
