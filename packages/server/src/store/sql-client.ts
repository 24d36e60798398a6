/**
 * The one seam between the store and a database: parameterised queries and transactions.
 * PGlite (embedded) implements it here; a `pg` Pool can implement it for PostgreSQL, since the
 * store only issues plain PostgreSQL SQL.
 */
import type { PGlite, Transaction } from '@electric-sql/pglite';

/** Rows as plain objects keyed by column name. */
export type Row = Record<string, unknown>;

/**
 * What the store needs from a database connection.
 *
 * @example
 * const { rows } = await sql.query('SELECT id FROM tollgate_users WHERE external_id = $1', ['42']);
 */
export interface SqlClient {
  query<R = Row>(text: string, params?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /**
   * Run `fn` in one transaction: committed if it resolves, rolled back if it throws. The `tx`
   * client's own `transaction()` must run its function on the same connection (no new BEGIN):
   * store methods nest.
   */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close?(): Promise<void>;
}

type Queryable = Pick<PGlite, 'query'> | Transaction;

function wrap(db: Queryable, transaction: SqlClient['transaction']): SqlClient {
  return {
    async query<R>(text: string, params: readonly unknown[] = []) {
      const result = await db.query<R>(text, params as unknown[]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    transaction,
  };
}

/**
 * A `SqlClient` over a PGlite instance. Inside a transaction, `transaction()` simply reuses
 * it: PGlite has one connection, so a nested BEGIN on the outer handle would wait forever.
 *
 * @example
 * const sql = pgliteClient(await PGlite.create('./data'));
 */
export function pgliteClient(db: PGlite): SqlClient {
  const client: SqlClient = {
    ...wrap(db, (fn) =>
      db.transaction(async (tx) => {
        const inner: SqlClient = wrap(tx, (nested) => nested(inner));
        return fn(inner);
      }),
    ),
    close: () => db.close(),
  };
  return client;
}
