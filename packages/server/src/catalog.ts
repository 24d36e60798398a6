/**
 * The plan catalog: which plans exist and what each grants. Loaded once at start from a JSON
 * file (or an object) and validated with zod, so a typo fails the start with the bad path
 * named instead of surfacing later as a 404 at request time.
 */
import { readFileSync } from 'node:fs';
import { ConfigurationError, type Plan } from '@tollgate/core';
import { z } from 'zod';
import { parseAmount } from './decimal.js';

const featureValue = z.union([z.literal(true), z.number().finite().nonnegative()], {
  error: 'expected true (a boolean feature) or a number ≥ 0 (a metered feature: its allocation per licence)',
});

const days = (what: string) =>
  z
    .number({ error: `expected a whole number of days (${what})` })
    .int({ error: `expected a whole number of days (${what})` })
    .positive({ error: `expected a whole number of days > 0 (${what})` });

const planSchema = z.strictObject({
  id: z
    .string({ error: 'expected a plan id (a non-empty string)' })
    .min(1, { error: 'expected a non-empty plan id' }),
  name: z.string({ error: 'expected a plan name (a string)' }).min(1, { error: 'expected a non-empty name' }),
  trialDays: days('length of a trial licence').optional(),
  durationDays: days('length of a licence; leave it out for licences that never expire').optional(),
  features: z.record(z.string().min(1, { error: 'expected a non-empty feature id' }), featureValue, {
    error: 'expected an object of feature id → true | allocation',
  }),
});

/**
 * The zod schema of a catalog file, exported for tools that generate or lint catalogs.
 *
 * @example
 * catalogSchema.parse(JSON.parse(readFileSync('catalog.json', 'utf8')));
 */
export const catalogSchema = z
  .strictObject({
    plans: z
      .array(planSchema, { error: 'expected an array of plans' })
      .min(1, { error: 'expected at least one plan' }),
  })
  .superRefine((catalog, ctx) => {
    const seen = new Set<string>();
    catalog.plans.forEach((plan, index) => {
      if (seen.has(plan.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['plans', index, 'id'],
          message: `duplicate plan id "${plan.id}"`,
        });
      }
      seen.add(plan.id);
    });
  });

/** One feature a plan grants: boolean, or metered with an allocation per licence (a decimal string). */
export type CatalogFeature =
  | { id: string; metered: false }
  | { id: string; metered: true; allocation: string };

/** A validated catalog with lookups. */
export interface Catalog {
  /** The plans in file order, in core's `Plan` shape. */
  readonly plans: readonly Plan[];
  plan(planId: string): Plan | undefined;
  /** The features of a plan, metered allocations as exact decimal strings. */
  features(planId: string): readonly CatalogFeature[];
}

/** What `loadCatalog` accepts: the parsed catalog object, or a path to its JSON file. */
export type CatalogSource = string | { plans: unknown };

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path)
    out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`;
  return out === '' ? '(root)' : out;
}

/**
 * Validate a catalog (object or JSON file path). Throws a `ConfigurationError` whose message
 * names every bad path and what is expected there (`plans[1].features.sms: expected true …`).
 *
 * @example
 * const catalog = loadCatalog({ plans: [{ id: 'free', name: 'Free', features: { reports: true, sms: 10 } }] });
 * catalog.features('free'); // [{ id: 'reports', metered: false }, { id: 'sms', metered: true, allocation: '10' }]
 */
export function loadCatalog(source: CatalogSource): Catalog {
  const origin = typeof source === 'string' ? `catalog file ${source}` : 'catalog';
  let raw: unknown = source;
  if (typeof source === 'string') {
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (cause) {
      throw new ConfigurationError(
        `Cannot read the ${origin} (${(cause as NodeJS.ErrnoException).code ?? 'error'}); pass --catalog (or the catalog option) pointing to a readable JSON file.`,
        { cause },
      );
    }
    try {
      raw = JSON.parse(text);
    } catch (cause) {
      throw new ConfigurationError(
        `The ${origin} is not valid JSON (${(cause as Error).message}); fix the syntax.`,
        {
          cause,
        },
      );
    }
  }
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${pathOf(issue.path)}: ${issue.message}`);
    throw new ConfigurationError(
      `The ${origin} is invalid:\n${lines.join('\n')}\nExpected { "plans": [ { "id", "name", "trialDays"?, "durationDays"?, "features": { "<feature>": true | <allocation> } } ] }.`,
      { issues: parsed.error.issues, cause: parsed.error },
    );
  }
  const plans: Plan[] = parsed.data.plans.map((p) => ({
    id: p.id,
    name: p.name,
    ...(p.trialDays === undefined ? {} : { trialDays: p.trialDays }),
    ...(p.durationDays === undefined ? {} : { durationDays: p.durationDays }),
    features: { ...p.features },
  }));
  const byId = new Map(plans.map((p) => [p.id, p]));
  const features = new Map<string, CatalogFeature[]>(
    plans.map((p) => [
      p.id,
      Object.entries(p.features).map(
        ([id, value]): CatalogFeature =>
          value === true
            ? { id, metered: false }
            : { id, metered: true, allocation: parseAmount(value) ?? '0' },
      ),
    ]),
  );
  return {
    plans,
    plan: (planId) => byId.get(planId),
    features: (planId) => features.get(planId) ?? [],
  };
}
