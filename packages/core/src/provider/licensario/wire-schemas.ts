/**
 * zod schemas for every JSON answer of the Licensario wire format
 * (packages/server/README.md), each turning the wire shape into core's types: dates become
 * `Date`s, decimal strings become numbers. A body that does not match is an
 * `InvalidResponseError`, never a half-filled object.
 */
import { z } from 'zod';
import type { Allocation, License, Plan } from '../../types.js';
import { parseWireDate, parseWireDecimal } from './wire-format.js';

/** `yyyymmddHHMMSS` UTC → `Date`. */
const wireDate = z
  .string()
  .refine((text) => parseWireDate(text) !== undefined, 'expected a yyyymmddHHMMSS UTC date')
  .transform((text) => parseWireDate(text)!);

/** Amounts are decimal strings on the wire (`"1200.0"`); a JSON number is accepted too. */
const wireAmount = z.union([
  z.number().finite(),
  z
    .string()
    .refine((text) => parseWireDecimal(text) !== undefined, 'expected a decimal string such as "12.38"')
    .transform((text) => parseWireDecimal(text)!),
]);

/** Ids are strings on the wire; a number (some stores use serial ids) is read as its text. */
const wireId = z.union([z.string().min(1), z.number().int().transform(String)]);

const wireFeature = z.object({
  id: z.string().min(1),
  totalAmount: wireAmount.optional(),
  amountUsed: wireAmount.optional(),
});

/** One JSON licence. */
export const licenseSchema = z
  .object({
    licenseId: wireId,
    userId: wireId,
    paymentPlanId: z.string().min(1),
    issueDateUTC: wireDate,
    expirationDateUTC: wireDate.nullable().optional(),
    isTrial: z.boolean().optional(),
    features: z.array(wireFeature),
  })
  .transform(
    (wire): License => ({
      id: wire.licenseId,
      userId: wire.userId,
      planId: wire.paymentPlanId,
      issuedAt: wire.issueDateUTC,
      expiresAt: wire.expirationDateUTC ?? null,
      trial: wire.isTrial ?? false,
      features: wire.features.map((feature) => ({
        id: feature.id,
        ...(feature.totalAmount === undefined ? {} : { total: feature.totalAmount }),
        ...(feature.amountUsed === undefined ? {} : { used: feature.amountUsed }),
      })),
    }),
  );

/** `GET …/licenses`: `{ "licenses": [ …licence… ] }`. */
export const licenseListSchema = z
  .object({ licenses: z.array(licenseSchema) })
  .transform((wire) => wire.licenses);

/** Allocation reads and writes: `{"total":"1200.0","used":"35.0","available":1165.0}`. */
export const allocationSchema = z
  .object({ total: wireAmount, used: wireAmount, available: wireAmount })
  .transform((wire): Allocation => ({ total: wire.total, used: wire.used, available: wire.available }));

/**
 * The answer of our batch endpoint `POST /api/v1/allocations/batch`: one result per
 * adjustment, in order; a failed one carries the error body its single request would get.
 */
export const adjustmentResultsSchema = z.object({
  results: z.array(
    z.union([
      z.object({ status: z.literal(200), allocation: allocationSchema, replayed: z.boolean().optional() }),
      z.object({
        status: z.number().int().min(400).max(599),
        code: z.string().optional(),
        message: z.string().optional(),
        available: wireAmount.optional(),
      }),
    ]),
  ),
});

const wirePlan = z
  .object({
    id: z.string().min(1),
    name: z.string(),
    trialDays: z.number().int().nonnegative().nullable().optional(),
    durationDays: z.number().int().positive().nullable().optional(),
    features: z.record(z.string(), z.union([z.literal(true), wireAmount])),
  })
  .transform(
    (wire): Plan => ({
      id: wire.id,
      name: wire.name,
      ...(wire.trialDays == null ? {} : { trialDays: wire.trialDays }),
      ...(wire.durationDays == null ? {} : { durationDays: wire.durationDays }),
      features: wire.features,
    }),
  );

/** `GET /api/v1/plans`: `{ "plans": [ … ] }`. */
export const planListSchema = z.object({ plans: z.array(wirePlan) }).transform((wire) => wire.plans);

/** `PUT /api/v1/transactions`: `{ "id": "123" }`. */
export const transactionSchema = z.object({ id: wireId });

/** `GET /api/v1/publisher/balance`: `{ "balance": "99.99" }`. */
export const balanceSchema = z.object({ balance: wireAmount });

/** `POST /api/v1/wizards` answers the token as `text/plain`. */
export const wizardTokenSchema = z
  .string()
  .transform((text) => text.trim())
  .pipe(z.string().min(1, 'expected a non-empty token'));

/**
 * The JSON error body `{ "code": "unknown_plan", "message": "…" }`, read leniently: an error
 * answer that is not this shape (an HTML page from a proxy) still becomes an `HttpError`.
 * `available` is read from `409 exhausted` answers when the service includes it.
 */
export const errorBodySchema = z.object({
  code: z.string().optional(),
  message: z.string().optional(),
  available: wireAmount.optional(),
});

export type WireErrorBody = z.output<typeof errorBodySchema>;
