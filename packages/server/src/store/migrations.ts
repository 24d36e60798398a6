/**
 * The schema, as idempotent statements run at every start. Plain PostgreSQL (it runs on PGlite
 * and on a real server alike). Times are epoch milliseconds in BIGINT so the injected clock
 * is the only source of "now"; amounts are NUMERIC so decimals stay exact.
 */
import type { SqlClient } from './sql-client.js';

/** An arbitrary constant naming Tollgate's migration lock. */
const MIGRATION_LOCK_ID = 7_406_171;

const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS tollgate_meta (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   )`,
  `CREATE SEQUENCE IF NOT EXISTS tollgate_user_seq`,
  `CREATE TABLE IF NOT EXISTS tollgate_users (
     id TEXT PRIMARY KEY,
     external_id TEXT UNIQUE,
     email TEXT,
     created_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS tollgate_licenses (
     id BIGSERIAL PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES tollgate_users (id),
     plan_id TEXT NOT NULL,
     issued_at BIGINT NOT NULL,
     expires_at BIGINT,
     trial BOOLEAN NOT NULL DEFAULT FALSE,
     revoked_at BIGINT,
     revoke_reason TEXT
   )`,
  `CREATE INDEX IF NOT EXISTS tollgate_licenses_user ON tollgate_licenses (user_id)`,
  // One trial per subject and plan, enforced by the database so two concurrent requests
  // cannot both start one (revoked trials still count).
  `CREATE UNIQUE INDEX IF NOT EXISTS tollgate_licenses_one_trial ON tollgate_licenses (user_id, plan_id) WHERE trial`,
  `CREATE TABLE IF NOT EXISTS tollgate_license_features (
     license_id BIGINT NOT NULL REFERENCES tollgate_licenses (id),
     feature_id TEXT NOT NULL,
     total NUMERIC,
     used NUMERIC NOT NULL DEFAULT 0,
     PRIMARY KEY (license_id, feature_id)
   )`,
  `CREATE INDEX IF NOT EXISTS tollgate_license_features_feature ON tollgate_license_features (feature_id)`,
  `CREATE TABLE IF NOT EXISTS tollgate_idempotency (
     key TEXT PRIMARY KEY,
     fingerprint TEXT NOT NULL,
     status INTEGER,
     content_type TEXT,
     body TEXT,
     created_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS tollgate_transactions (
     id BIGSERIAL PRIMARY KEY,
     uuid TEXT NOT NULL UNIQUE,
     license_id BIGINT,
     amount NUMERIC NOT NULL,
     external_transaction_id TEXT,
     user_id TEXT,
     external_user_id TEXT,
     type TEXT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
];

/**
 * Create or complete the schema. Safe to run on every start and from several nodes.
 *
 * @example
 * await migrate(sql);
 */
export async function migrate(sql: SqlClient): Promise<void> {
  await sql.transaction(async (tx) => {
    // Nodes starting together on one PostgreSQL would race on CREATE … IF NOT EXISTS (it is not
    // atomic against a concurrent create); a transaction-scoped advisory lock serialises them.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    for (const statement of STATEMENTS) await tx.query(statement);
  });
}
