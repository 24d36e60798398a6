/**
 * Reads a request body with a size bound, and turns it into parameters by content type.
 */
import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../service-error.js';
import { parseFormEncoded, parseJsonParams, type RawParams } from './params.js';

/** Bodies above this are refused with `413 payload_too_large`. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * The body as text; `413` (and the rest left unread) once it passes `limit` bytes.
 *
 * @example
 * const text = await readBody(req);
 */
export function readBody(req: IncomingMessage, limit = BODY_LIMIT_BYTES): Promise<string> {
  const tooLarge = () =>
    new ServiceError(413, 'payload_too_large', `The request body is over ${limit} bytes; send less.`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (error) => {
      if (done) return;
      done = true;
      reject(error);
    });
  });
}

/**
 * Parameters carried by a body: form-encoded or JSON by `Content-Type`; an empty body (as
 * clients send with the form content type on GET) gives none.
 *
 * @example
 * bodyParams('application/json', '{"amount":"2"}'); // Map { amount → ['2'] }
 */
export function bodyParams(contentType: string | undefined, text: string): RawParams {
  if (text.trim() === '') return new Map();
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ServiceError(400, 'invalid_request', 'The body is not valid JSON.');
    }
    return parseJsonParams(parsed);
  }
  if (type === 'application/x-www-form-urlencoded' || type === '') return parseFormEncoded(text);
  throw new ServiceError(
    400,
    'invalid_request',
    `Unsupported Content-Type "${type}"; send application/x-www-form-urlencoded or application/json.`,
  );
}
