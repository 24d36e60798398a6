/**
 * Persistence and the rules that must hold under concurrency: licences, allocations,
 * idempotency records, transactions. Every write runs in a transaction; a change to one
 * licence's allocation is one conditional `UPDATE … RETURNING`; a change spread over several
 * licences locks their rows (`SELECT … FOR UPDATE`) in one deterministic order, so many nodes
 * on one PostgreSQL can run it without over-consuming or deadlocking.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Subject } from '@tollgate/core';
import type { Catalog } from '../catalog.js';
import { addDecimal, compareDecimal, minDecimal, subtractDecimal } from '../decimal.js';
import { ServiceError } from '../service-error.js';
import { lockDataDir } from './data-dir-lock.js';
import { migrate } from './migrations.js';
import { pgliteClient, type SqlClient } from './sql-client.js';

const DAY_MS = 86_400_000;
/** Idempotency records older than this are pruned at start (Stripe keeps them 24 h too). */
const IDEMPOTENCY_RETENTION_MS = DAY_MS;

/** One feature of a stored licence; `total`/`used` are `null` for boolean features. */
export interface StoredFeature {
  id: string;
  total: string | null;
  used: string | null;
}

/** A licence as stored. Times are epoch ms. */
export interface StoredLicense {
  id: string;
  userId: string;
  planId: string;
  issuedAt: number;
  expiresAt: number | null;
  trial: boolean;
  features: StoredFeature[];
}

/** A metered feature's allocation over a subject's active licences, as exact decimal strings. */
export interface AllocationAmounts {
  total: string;
  used: string;
  available: string;
}

/** A response kept for an `Idempotency-Key`. */
export interface StoredResponse {
  status: number;
  contentType: string;
  body: string;
}

/** The outcome of claiming an idempotency key. */
export type IdempotencyClaim =
  | { kind: 'new' }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'mismatch' };

/** One change of {@link Store.adjustAllocations}: what {@link Store.adjustAllocation} takes. */
export interface UsageChange {
  subject: Subject;
  featureId: string;
  /** Exact decimal; > 0 consumes, < 0 refunds. */
  usage: string;
  planId: string | undefined;
  floor: boolean;
  /** Not applied, but its licence rows count as touched (the caller applies it later). */
  deferred?: boolean | undefined;
}

/** A logged payment transaction (`PUT /api/v1/transactions`). */
export interface TransactionInput {
  uuid: string;
  amount: string;
  type: 'license' | 'refund';
  licenseId?: string;
  externalTransactionId?: string;
  userId?: string;
  externalUserId?: string;
}

/** Options of {@link Store.open}. */
export interface StoreOpenOptions {
  catalog: Catalog;
  /** Directory for the embedded database; absent = in memory (gone at close). */
  dataDir?: string | undefined;
  clock?: { now(): number } | undefined;
}

interface AllocationRow {
  license_id: string;
  total: string;
  used: string;
}

const isLicenseId = (id: string): boolean => /^[1-9]\d{0,17}$/.test(id);

/**
 * The service's store. Methods throw `ServiceError` for refusals (unknown plan, no licence,
 * exhausted…).
 *
 * @example
 * const store = await Store.open({ catalog, dataDir: './.tollgate-data' });
 * await store.createLicense({ externalUserId: '42' }, 'pro');
 * await store.adjustAllocation({ externalUserId: '42' }, 'sms', '1', { floor: true });
 * await store.close();
 */
export class Store {
  readonly catalog: Catalog;
  private readonly sql: SqlClient;
  private readonly clock: { now(): number };

  constructor(sql: SqlClient, catalog: Catalog, clock: { now(): number } = Date) {
    this.sql = sql;
    this.catalog = catalog;
    this.clock = clock;
  }

  /**
   * Open the embedded PGlite store (persistent in `dataDir`, else in memory) and migrate it.
   * One process at a time may open a data directory.
   *
   * @example
   * const store = await Store.open({ catalog: loadCatalog('catalog.json'), dataDir: './data' });
   */
  static async open(options: StoreOpenOptions): Promise<Store> {
    let release = () => {};
    if (options.dataDir !== undefined) {
      mkdirSync(options.dataDir, { recursive: true });
      release = lockDataDir(options.dataDir);
    }
    let db: PGlite | undefined;
    try {
      db = await PGlite.create(options.dataDir);
      const opened = db;
      const sql = pgliteClient(opened);
      const store = new Store(
        {
          ...sql,
          close: async () => {
            await opened.close();
            release();
          },
        },
        options.catalog,
        options.clock ?? Date,
      );
      await store.init();
      return store;
    } catch (error) {
      await db?.close();
      release();
      throw error;
    }
  }

  /**
   * Migrate the schema and prune old idempotency records. `open` calls it; call it yourself
   * when constructing a store over another `SqlClient`.
   *
   * @example
   * const store = new Store(myPgClient, catalog);
   * await store.init();
   */
  async init(): Promise<void> {
    await migrate(this.sql);
    await this.sql.query('DELETE FROM tollgate_idempotency WHERE created_at < $1', [
      this.clock.now() - IDEMPOTENCY_RETENTION_MS,
    ]);
  }

  /** Close the database (the data directory can then be opened again). */
  async close(): Promise<void> {
    await this.sql.close?.();
  }

  /** Current time from the injected clock (epoch ms). */
  now(): number {
    return this.clock.now();
  }

  /**
   * Run `fn` against a store bound to one transaction.
   *
   * @example
   * await store.transaction(async (tx) => { await tx.createLicense(subject, 'pro'); });
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.sql.transaction((tx) => fn(new Store(tx, this.catalog, this.clock)));
  }

  // ── subjects ────────────────────────────────────────────────────────────────────────────

  /** The service's id for a subject, or `undefined` if it was never written. */
  async findUserId(subject: Subject): Promise<string | undefined> {
    const { rows } =
      'userId' in subject
        ? await this.sql.query<{ id: string }>('SELECT id FROM tollgate_users WHERE id = $1', [
            subject.userId,
          ])
        : await this.sql.query<{ id: string }>('SELECT id FROM tollgate_users WHERE external_id = $1', [
            subject.externalUserId,
          ]);
    return rows[0]?.id;
  }

  /**
   * The service's id for a subject, creating the subject if needed; `email` (if given)
   * replaces the stored one.
   */
  async ensureUser(subject: Subject, email?: string): Promise<string> {
    const now = this.clock.now();
    if ('userId' in subject) {
      await this.sql.query(
        `INSERT INTO tollgate_users (id, email, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET email = COALESCE(EXCLUDED.email, tollgate_users.email)`,
        [subject.userId, email ?? null, now],
      );
      return subject.userId;
    }
    // Generated ids look like "u17". A client may have taken that id through
    // /api/v1/users/u17 first; then the insert does nothing and we draw the next number.
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.findUserId(subject);
      if (existing !== undefined) {
        if (email !== undefined) {
          await this.sql.query('UPDATE tollgate_users SET email = $2 WHERE id = $1', [existing, email]);
        }
        return existing;
      }
      const { rows } = await this.sql.query<{ id: string }>(
        `INSERT INTO tollgate_users (id, external_id, email, created_at)
         VALUES ('u' || nextval('tollgate_user_seq'), $1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING id`,
        [subject.externalUserId, email ?? null, now],
      );
      if (rows[0] !== undefined) return rows[0].id;
    }
    throw new Error('Could not allocate an id for the external user after 5 attempts.');
  }

  // ── licences ────────────────────────────────────────────────────────────────────────────

  /**
   * A subject's licences that are not revoked (expired ones included). A licence matches if
   * its plan is in `planIds` (when given) and it grants one of `featureIds` (when given).
   */
  async listLicenses(
    subject: Subject,
    query: { featureIds?: readonly string[] | undefined; planIds?: readonly string[] | undefined } = {},
  ): Promise<StoredLicense[]> {
    const userId = await this.findUserId(subject);
    if (userId === undefined) return [];
    const { rows } = await this.sql.query<LicenseRow>(
      `SELECT l.id::text AS id, l.user_id, l.plan_id, l.issued_at, l.expires_at, l.trial
       FROM tollgate_licenses l
       WHERE l.user_id = $1 AND l.revoked_at IS NULL
         AND ($2::text[] IS NULL OR l.plan_id = ANY ($2::text[]))
         AND ($3::text[] IS NULL OR EXISTS (
           SELECT 1 FROM tollgate_license_features f WHERE f.license_id = l.id AND f.feature_id = ANY ($3::text[])))
       ORDER BY l.issued_at, l.id`,
      [userId, query.planIds ? [...query.planIds] : null, query.featureIds ? [...query.featureIds] : null],
    );
    return this.withFeatures(rows);
  }

  /** One licence by id (revoked or not), or `undefined`. */
  async getLicense(licenseId: string): Promise<StoredLicense | undefined> {
    if (!isLicenseId(licenseId)) return undefined;
    const { rows } = await this.sql.query<LicenseRow>(
      `SELECT id::text AS id, user_id, plan_id, issued_at, expires_at, trial FROM tollgate_licenses WHERE id = $1`,
      [licenseId],
    );
    return (await this.withFeatures(rows))[0];
  }

  /**
   * Issue a licence of `planId` to the subject (created if needed). A trial lasts the plan's
   * `trialDays`, once per subject and plan; a licence lasts `durationDays`, or forever.
   */
  async createLicense(
    subject: Subject,
    planId: string,
    options: { trial?: boolean } = {},
  ): Promise<StoredLicense> {
    return this.transaction(async (tx) => {
      const userId = await tx.ensureUser(subject, 'externalUserId' in subject ? subject.email : undefined);
      return tx.insertLicense(userId, planId, options.trial === true);
    });
  }

  /**
   * The subject's active licence of `planId` (the longest-lasting one), or a new one.
   * The subject row is locked so two concurrent calls cannot both create a licence.
   */
  async ensureLicense(
    subject: Subject,
    planId: string,
    options: { trial?: boolean } = {},
  ): Promise<{ license: StoredLicense; created: boolean }> {
    this.requirePlan(planId);
    return this.transaction(async (tx) => {
      const userId = await tx.ensureUser(subject, 'externalUserId' in subject ? subject.email : undefined);
      await tx.sql.query('SELECT id FROM tollgate_users WHERE id = $1 FOR UPDATE', [userId]);
      const { rows } = await tx.sql.query<LicenseRow>(
        `SELECT id::text AS id, user_id, plan_id, issued_at, expires_at, trial FROM tollgate_licenses
         WHERE user_id = $1 AND plan_id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
         ORDER BY expires_at DESC NULLS FIRST, id DESC LIMIT 1`,
        [userId, planId, tx.clock.now()],
      );
      const existing = (await tx.withFeatures(rows))[0];
      if (existing !== undefined) return { license: existing, created: false };
      return { license: await tx.insertLicense(userId, planId, options.trial === true), created: true };
    });
  }

  /** Revoke a licence; `unknown_license` if it does not exist or is already revoked. */
  async revokeLicense(licenseId: string, reason?: string): Promise<void> {
    const { rows } = isLicenseId(licenseId)
      ? await this.sql.query(
          `UPDATE tollgate_licenses SET revoked_at = $2, revoke_reason = $3
           WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
          [licenseId, this.clock.now(), reason ?? null],
        )
      : { rows: [] };
    if (rows.length === 0) {
      throw new ServiceError(404, 'unknown_license', `No licence "${licenseId}" (or it is already revoked).`);
    }
  }

  private requirePlan(planId: string) {
    const plan = this.catalog.plan(planId);
    if (plan === undefined) {
      throw new ServiceError(
        404,
        'unknown_plan',
        `Plan "${planId}" is not in the catalog; use one of: ${this.catalog.plans.map((p) => p.id).join(', ')}.`,
      );
    }
    return plan;
  }

  private async insertLicense(userId: string, planId: string, trial: boolean): Promise<StoredLicense> {
    const plan = this.requirePlan(planId);
    const now = this.clock.now();
    let expiresAt: number | null = null;
    if (trial) {
      if (plan.trialDays === undefined) {
        throw new ServiceError(
          409,
          'no_trial',
          `Plan "${planId}" offers no trial; create the licence without trial.`,
        );
      }
      const used = await this.sql.query(
        'SELECT 1 FROM tollgate_licenses WHERE user_id = $1 AND plan_id = $2 AND trial',
        [userId, planId],
      );
      if (used.rows.length > 0) {
        throw new ServiceError(409, 'trial_used', `This subject already had a trial of plan "${planId}".`);
      }
      expiresAt = now + plan.trialDays * DAY_MS;
    } else if (plan.durationDays !== undefined) {
      expiresAt = now + plan.durationDays * DAY_MS;
    }
    let inserted: { id: string };
    try {
      const { rows } = await this.sql.query<{ id: string }>(
        `INSERT INTO tollgate_licenses (user_id, plan_id, issued_at, expires_at, trial)
         VALUES ($1, $2, $3, $4, $5) RETURNING id::text AS id`,
        [userId, planId, now, expiresAt, trial],
      );
      inserted = rows[0]!;
    } catch (error) {
      // The unique trial index caught a concurrent trial start.
      if ((error as { code?: string }).code === '23505') {
        throw new ServiceError(409, 'trial_used', `This subject already had a trial of plan "${planId}".`);
      }
      throw error;
    }
    for (const feature of this.catalog.features(planId)) {
      await this.sql.query(
        'INSERT INTO tollgate_license_features (license_id, feature_id, total, used) VALUES ($1, $2, $3, $4)',
        [inserted.id, feature.id, feature.metered ? feature.allocation : null, 0],
      );
    }
    const license = await this.getLicense(inserted.id);
    return license!;
  }

  private async withFeatures(rows: LicenseRow[]): Promise<StoredLicense[]> {
    if (rows.length === 0) return [];
    const { rows: features } = await this.sql.query<{
      license_id: string;
      feature_id: string;
      total: string | null;
      used: string | null;
    }>(
      `SELECT license_id::text AS license_id, feature_id, total::text AS total, used::text AS used
       FROM tollgate_license_features WHERE license_id = ANY ($1::bigint[])`,
      [rows.map((r) => r.id)],
    );
    return rows.map((row) => {
      // Catalog order, so a licence lists its features as the plan declares them.
      const order = this.catalog.features(row.plan_id).map((f) => f.id);
      const rank = (id: string) => {
        const i = order.indexOf(id);
        return i === -1 ? order.length : i;
      };
      return {
        id: row.id,
        userId: row.user_id,
        planId: row.plan_id,
        issuedAt: Number(row.issued_at),
        expiresAt: row.expires_at === null ? null : Number(row.expires_at),
        trial: row.trial,
        features: features
          .filter((f) => f.license_id === row.id)
          .sort((a, b) => rank(a.feature_id) - rank(b.feature_id) || a.feature_id.localeCompare(b.feature_id))
          .map((f) => ({
            id: f.feature_id,
            total: f.total,
            used: f.total === null ? null : f.used,
          })),
      };
    });
  }

  // ── allocations ─────────────────────────────────────────────────────────────────────────

  /**
   * Rows of the subject's active licences granting the metered feature, in draw order:
   * expiring first, non-expiring last, ties by issue date then id (README, "Several licences").
   * None when the subject is unknown or has no such licence.
   *
   * One statement, found by the subject itself: every metered read and write starts here, and
   * on the embedded store each statement is a round trip into PGlite (~0.2–0.5 ms), so an
   * external id is joined rather than looked up first. A licence row names its user, so a
   * `userId` needs no join (the foreign key vouches that the user exists).
   */
  private async allocationRows(
    subject: Subject,
    featureId: string,
    planId: string | undefined,
    lock: boolean,
  ) {
    const byExternalId = !('userId' in subject);
    const { rows } = await this.sql.query<AllocationRow & { user_id: string }>(
      `SELECT l.user_id, f.license_id::text AS license_id, f.total::text AS total, f.used::text AS used
       FROM tollgate_license_features f JOIN tollgate_licenses l ON l.id = f.license_id
       ${byExternalId ? 'JOIN tollgate_users u ON u.id = l.user_id WHERE u.external_id = $1' : 'WHERE l.user_id = $1'}
         AND f.feature_id = $2 AND f.total IS NOT NULL AND l.revoked_at IS NULL
         AND (l.expires_at IS NULL OR l.expires_at > $3) AND ($4::text IS NULL OR l.plan_id = $4::text)
       ORDER BY l.expires_at ASC NULLS LAST, l.issued_at, l.id${lock ? ' FOR UPDATE OF f' : ''}`,
      [byExternalId ? subject.externalUserId : subject.userId, featureId, this.clock.now(), planId ?? null],
    );
    return rows;
  }

  /** The subject's allocation rows for a metered feature (unlocked); `404` when it has none. */
  private async licensedRows(subject: Subject, featureId: string, planId: string | undefined) {
    const rows = await this.allocationRows(subject, featureId, planId, false);
    if (rows[0] === undefined) throw noLicense(featureId, planId);
    return { userId: rows[0].user_id, rows };
  }

  /** Total, used and available of a metered feature over the subject's active licences. */
  async getAllocation(subject: Subject, featureId: string, options: { planId?: string | undefined } = {}) {
    return sum(await this.allocationRows(subject, featureId, options.planId, false));
  }

  /**
   * Record usage (`usage` > 0 consumes, < 0 refunds). With `floor`, consumption is applied
   * only if `available` stays ≥ 0, atomically; otherwise `409 exhausted` and nothing changes.
   */
  async adjustAllocation(
    subject: Subject,
    featureId: string,
    usage: string,
    options: { planId?: string | undefined; floor?: boolean | undefined } = {},
  ): Promise<AllocationAmounts> {
    const floor = options.floor === true;
    const { userId, rows } = await this.licensedRows(subject, featureId, options.planId);
    if (rows.length === 1) {
      // The common case: one conditional statement, atomic on any number of nodes.
      const { rows: updated } = await this.sql.query<{ total: string; used: string }>(
        `UPDATE tollgate_license_features f SET used = f.used + $3::numeric
         FROM tollgate_licenses l
         WHERE f.license_id = $1 AND f.feature_id = $2 AND l.id = f.license_id AND l.revoked_at IS NULL
           AND (l.expires_at IS NULL OR l.expires_at > $4)
           AND (NOT $5::boolean OR $3::numeric <= 0 OR f.total - f.used - $3::numeric >= 0)
         RETURNING f.total::text AS total, f.used::text AS used`,
        [rows[0]!.license_id, featureId, usage, this.clock.now(), floor],
      );
      if (updated[0] !== undefined) return sum([{ license_id: rows[0]!.license_id, ...updated[0] }]);
      // Refused by the floor, or the licence changed under us: decide again under lock.
    }
    return this.transaction((tx) =>
      tx.applyUsageLocked(userId, featureId, options.planId, floor, () => usage),
    );
  }

  /** Set the available amount: the same as recording usage of (current available − amount). */
  async setAllocation(
    subject: Subject,
    featureId: string,
    available: string,
    options: { planId?: string | undefined } = {},
  ): Promise<AllocationAmounts> {
    const { userId, rows } = await this.licensedRows(subject, featureId, options.planId);
    if (rows.length === 1) {
      const { rows: updated } = await this.sql.query<{ total: string; used: string }>(
        `UPDATE tollgate_license_features f SET used = f.total - $3::numeric
         FROM tollgate_licenses l
         WHERE f.license_id = $1 AND f.feature_id = $2 AND l.id = f.license_id AND l.revoked_at IS NULL
           AND (l.expires_at IS NULL OR l.expires_at > $4)
         RETURNING f.total::text AS total, f.used::text AS used`,
        [rows[0]!.license_id, featureId, available, this.clock.now()],
      );
      if (updated[0] !== undefined) return sum([{ license_id: rows[0]!.license_id, ...updated[0] }]);
    }
    return this.transaction((tx) =>
      tx.applyUsageLocked(userId, featureId, options.planId, false, (current) =>
        subtractDecimal(current.available, available),
      ),
    );
  }

  /**
   * Apply many usage changes at once, in two statements however many there are: one reads the
   * licence rows of every change, one conditional `UPDATE` applies those that can be applied
   * without a decision. Returns each change's allocation after it was applied, or `undefined`
   * for a change left to the caller, who applies it with {@link Store.adjustAllocation} (in its
   * order), which also gives its refusal. Left: a `deferred` change; a subject with no licence,
   * or several licences, granting the feature; a licence row that another change in the call
   * also touches (deferred ones included), so changes to one allocation keep the caller's
   * order; a change the floor refuses.
   *
   * On the embedded store each statement is a round trip into PGlite (~0.2–0.5 ms), which one
   * change at a time would pay four times per change (claim, read, update, answer).
   *
   * @example
   * const [after] = await tx.adjustAllocations([
   *   { subject: { externalUserId: '42' }, featureId: 'sms', usage: '3', planId: undefined, floor: true },
   * ]);
   */
  async adjustAllocations(changes: readonly UsageChange[]): Promise<(AllocationAmounts | undefined)[]> {
    const results: (AllocationAmounts | undefined)[] = changes.map(() => undefined);
    if (changes.length === 0) return results;
    const now = this.clock.now();
    const { rows } = await this.sql.query<{ i: number; license_id: string }>(
      // Each change is looked up by itself through the indexes (`OFFSET 0` keeps the lateral
      // subquery from being flattened into a join that the planner, without statistics on the
      // embedded store, runs as a scan of every licence).
      `SELECT c.i, r.license_id::text AS license_id
       FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[])
         AS c (i, user_id, external_id, feature_id, plan_id)
       CROSS JOIN LATERAL (
         SELECT f.license_id FROM tollgate_licenses l
         JOIN tollgate_license_features f ON f.license_id = l.id AND f.feature_id = c.feature_id
         WHERE l.user_id = COALESCE(c.user_id, (SELECT u.id FROM tollgate_users u WHERE u.external_id = c.external_id))
           AND f.total IS NOT NULL AND l.revoked_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $6)
           AND (c.plan_id IS NULL OR l.plan_id = c.plan_id)
         OFFSET 0) r`,
      [
        changes.map((_, i) => i),
        changes.map((c) => ('userId' in c.subject ? c.subject.userId : null)),
        changes.map((c) => ('userId' in c.subject ? null : c.subject.externalUserId)),
        changes.map((c) => c.featureId),
        changes.map((c) => c.planId ?? null),
        now,
      ],
    );
    const rowsPerChange = changes.map(() => 0);
    const changesPerRow = new Map<string, number>();
    const licenseOf: string[] = [];
    for (const row of rows) {
      rowsPerChange[row.i]! += 1;
      licenseOf[row.i] = row.license_id;
      const key = `${row.license_id}\0${changes[row.i]!.featureId}`;
      changesPerRow.set(key, (changesPerRow.get(key) ?? 0) + 1);
    }
    // In licence order: the update visits rows in the order given (a loop over the list, each
    // row by its primary key, the licence checked again as in the single path), so concurrent
    // batches on one PostgreSQL lock rows in one order.
    const applicable = changes
      .map((change, i) => ({ change, i, licenseId: licenseOf[i]! }))
      .filter(
        ({ change, i, licenseId }) =>
          change.deferred !== true &&
          rowsPerChange[i] === 1 &&
          changesPerRow.get(`${licenseId}\0${change.featureId}`) === 1,
      )
      .sort(
        (a, b) =>
          compareDecimal(a.licenseId, b.licenseId) || (a.change.featureId < b.change.featureId ? -1 : 1),
      );
    if (applicable.length === 0) return results;
    const { rows: updated } = await this.sql.query<{ i: number; total: string; used: string }>(
      `UPDATE tollgate_license_features f SET used = f.used + c.usage
       FROM unnest($1::int[], $2::bigint[], $3::text[], $4::numeric[], $5::boolean[])
         AS c (i, license_id, feature_id, usage, floor)
       WHERE f.license_id = c.license_id AND f.feature_id = c.feature_id
         AND (SELECT l.revoked_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $6)
              FROM tollgate_licenses l WHERE l.id = f.license_id)
         AND (NOT c.floor OR c.usage <= 0 OR f.total - f.used - c.usage >= 0)
       RETURNING c.i, f.total::text AS total, f.used::text AS used`,
      [
        applicable.map((a) => a.i),
        applicable.map((a) => a.licenseId),
        applicable.map((a) => a.change.featureId),
        applicable.map((a) => a.change.usage),
        applicable.map((a) => a.change.floor),
        now,
      ],
    );
    for (const row of updated) {
      results[row.i] = sum([{ license_id: licenseOf[row.i]!, total: row.total, used: row.used }]);
    }
    return results;
  }

  private async applyUsageLocked(
    userId: string,
    featureId: string,
    planId: string | undefined,
    floor: boolean,
    usageFor: (current: AllocationAmounts) => string,
  ): Promise<AllocationAmounts> {
    const rows = await this.allocationRows({ userId }, featureId, planId, true);
    if (rows.length === 0) throw noLicense(featureId, planId);
    const current = sum(rows);
    const usage = usageFor(current);
    if (
      floor &&
      compareDecimal(usage, '0') > 0 &&
      compareDecimal(subtractDecimal(current.available, usage), '0') < 0
    ) {
      throw new ServiceError(
        409,
        'exhausted',
        `Not enough "${featureId}" left: ${current.available} available, ${usage} requested. Nothing was changed.`,
        { available: current.available },
      );
    }
    const deltas = spreadUsage(rows, usage);
    for (const [i, delta] of deltas.entries()) {
      if (compareDecimal(delta, '0') === 0) continue;
      const row = rows[i]!;
      await this.sql.query(
        'UPDATE tollgate_license_features SET used = used + $3::numeric WHERE license_id = $1 AND feature_id = $2',
        [row.license_id, featureId, delta],
      );
      row.used = addDecimal(row.used, delta);
    }
    return sum(rows);
  }

  // ── idempotency ─────────────────────────────────────────────────────────────────────────

  /**
   * Claim an `Idempotency-Key` inside the transaction of the write it protects. A second
   * request with the key waits for the first to commit (PostgreSQL's unique index), then sees
   * its stored response; if the first rolled back, the second applies.
   */
  async claimIdempotencyKey(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    const inserted = await this.sql.query(
      `INSERT INTO tollgate_idempotency (key, fingerprint, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO NOTHING RETURNING key`,
      [key, fingerprint, this.clock.now()],
    );
    if (inserted.rows.length > 0) return { kind: 'new' };
    const { rows } = await this.sql.query<{
      fingerprint: string;
      status: number | null;
      content_type: string | null;
      body: string | null;
    }>('SELECT fingerprint, status, content_type, body FROM tollgate_idempotency WHERE key = $1', [key]);
    const row = rows[0];
    if (row === undefined || row.fingerprint !== fingerprint || row.status === null)
      return { kind: 'mismatch' };
    return {
      kind: 'replay',
      response: { status: row.status, contentType: row.content_type ?? '', body: row.body ?? '' },
    };
  }

  /**
   * Claim many keys at once (see {@link Store.claimIdempotencyKey}): the keys claimed now. A key
   * not returned was already there; claim it alone to learn whether it replays or mismatches.
   * Keys must be distinct.
   */
  async claimNewIdempotencyKeys(
    claims: readonly { key: string; fingerprint: string }[],
  ): Promise<Set<string>> {
    if (claims.length === 0) return new Set();
    // Sorted, so two requests claiming overlapping keys wait on each other in one order.
    const sorted = [...claims].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const { rows } = await this.sql.query<{ key: string }>(
      `INSERT INTO tollgate_idempotency (key, fingerprint, created_at)
       SELECT c.key, c.fingerprint, $3 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c (key, fingerprint, n)
       ORDER BY c.n
       ON CONFLICT (key) DO NOTHING RETURNING key`,
      [sorted.map((c) => c.key), sorted.map((c) => c.fingerprint), this.clock.now()],
    );
    return new Set(rows.map((row) => row.key));
  }

  /** Store the responses of many claimed keys (same transaction as the claims). */
  async completeIdempotencyKeys(
    answers: readonly { key: string; response: StoredResponse }[],
  ): Promise<void> {
    if (answers.length === 0) return;
    await this.sql.query(
      `UPDATE tollgate_idempotency t SET status = c.status, content_type = c.content_type, body = c.body
       FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS c (key, status, content_type, body)
       WHERE t.key = c.key`,
      [
        answers.map((a) => a.key),
        answers.map((a) => a.response.status),
        answers.map((a) => a.response.contentType),
        answers.map((a) => a.response.body),
      ],
    );
  }

  /**
   * Give back keys claimed in this transaction whose write did not happen, as a rollback of
   * the claim would: a later request with the key then applies.
   */
  async releaseIdempotencyKeys(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.sql.query('DELETE FROM tollgate_idempotency WHERE key = ANY ($1::text[]) AND status IS NULL', [
      [...keys],
    ]);
  }

  /** Store the response for a claimed key (same transaction as the claim). */
  async completeIdempotencyKey(key: string, response: StoredResponse): Promise<void> {
    await this.sql.query(
      'UPDATE tollgate_idempotency SET status = $2, content_type = $3, body = $4 WHERE key = $1',
      [key, response.status, response.contentType, response.body],
    );
  }

  // ── transactions and balance ────────────────────────────────────────────────────────────

  /** Log a payment transaction; a repeated `uuid` returns the first id. */
  async recordTransaction(input: TransactionInput): Promise<string> {
    return this.transaction(async (tx) => {
      const existing = await tx.sql.query<{ id: string }>(
        'SELECT id::text AS id FROM tollgate_transactions WHERE uuid = $1',
        [input.uuid],
      );
      if (existing.rows[0] !== undefined) return existing.rows[0].id;
      if (input.licenseId !== undefined && (await tx.getLicense(input.licenseId)) === undefined) {
        throw new ServiceError(404, 'unknown_license', `No licence "${input.licenseId}".`);
      }
      const { rows } = await tx.sql.query<{ id: string }>(
        `INSERT INTO tollgate_transactions
           (uuid, license_id, amount, external_transaction_id, user_id, external_user_id, type, created_at)
         VALUES ($1, $2, $3::numeric, $4, $5, $6, $7, $8)
         ON CONFLICT (uuid) DO NOTHING RETURNING id::text AS id`,
        [
          input.uuid,
          input.licenseId ?? null,
          input.amount,
          input.externalTransactionId ?? null,
          input.userId ?? null,
          input.externalUserId ?? null,
          input.type,
          tx.clock.now(),
        ],
      );
      return rows[0]!.id;
    });
  }

  /** Net revenue (licences minus refunds) logged between two instants, inclusive. */
  async balance(startMs: number, endMs: number): Promise<string> {
    const { rows } = await this.sql.query<{ balance: string }>(
      `SELECT COALESCE(SUM(CASE WHEN type = 'refund' THEN -amount ELSE amount END), 0)::text AS balance
       FROM tollgate_transactions WHERE created_at >= $1 AND created_at <= $2`,
      [startMs, endMs],
    );
    return rows[0]?.balance ?? '0';
  }

  // ── settings ────────────────────────────────────────────────────────────────────────────

  /** A value kept in the store, created with `create()` on first use (by whichever node is first). */
  async setting(key: string, create: () => string): Promise<string> {
    await this.sql.query(
      'INSERT INTO tollgate_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
      [key, create()],
    );
    const { rows } = await this.sql.query<{ value: string }>(
      'SELECT value FROM tollgate_meta WHERE key = $1',
      [key],
    );
    return rows[0]!.value;
  }
}

interface LicenseRow {
  id: string;
  user_id: string;
  plan_id: string;
  issued_at: number | string;
  expires_at: number | string | null;
  trial: boolean;
}

function sum(rows: readonly AllocationRow[]): AllocationAmounts {
  let total = '0';
  let used = '0';
  for (const row of rows) {
    total = addDecimal(total, row.total);
    used = addDecimal(used, row.used);
  }
  return { total, used, available: subtractDecimal(total, used) };
}

function noLicense(featureId: string, planId: string | undefined): ServiceError {
  return new ServiceError(
    404,
    'no_license',
    `No active licence${planId === undefined ? '' : ` of plan "${planId}"`} grants the metered feature "${featureId}" to this subject; create one first (POST …/licenses).`,
  );
}

/**
 * How much usage each licence (in draw order) takes (README, "Several licences granting one
 * feature"): consumption fills the first licences up to their available amount and puts any
 * remainder on the last; a refund goes back from the last licence towards the first, never
 * taking `used` below 0 except on the first.
 *
 * @example
 * spreadUsage([{ total: '10', used: '8' }, { total: '5', used: '0' }], '4'); // ['2', '2']
 */
export function spreadUsage(rows: readonly { total: string; used: string }[], usage: string): string[] {
  const deltas = rows.map(() => '0');
  const last = rows.length - 1;
  if (compareDecimal(usage, '0') >= 0) {
    let remaining = usage;
    for (let i = 0; i < last && compareDecimal(remaining, '0') > 0; i++) {
      const row = rows[i]!;
      const available = subtractDecimal(row.total, row.used);
      if (compareDecimal(available, '0') <= 0) continue;
      const take = minDecimal(available, remaining);
      deltas[i] = take;
      remaining = subtractDecimal(remaining, take);
    }
    deltas[last] = addDecimal(deltas[last]!, remaining);
  } else {
    let remaining = subtractDecimal('0', usage);
    for (let i = last; i > 0 && compareDecimal(remaining, '0') > 0; i--) {
      const used = rows[i]!.used;
      if (compareDecimal(used, '0') <= 0) continue;
      const give = minDecimal(used, remaining);
      deltas[i] = subtractDecimal('0', give);
      remaining = subtractDecimal(remaining, give);
    }
    deltas[0] = subtractDecimal(deltas[0]!, remaining);
  }
  return deltas;
}
