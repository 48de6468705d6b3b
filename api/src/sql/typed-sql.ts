import {
  type Compilable,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type RawBuilder,
  sql,
} from 'kysely'
import type pg from 'pg'
import type { DB } from '../generated/kysely/types.js'

export type { DB }
export type TypedSql = Kysely<DB>

/** The pool under each TypedSql, for the prepared statements run over it. */
const poolOf = new WeakMap<TypedSql, pg.Pool>()

/**
 * Typed SQL of the hot paths over an existing pg pool. The row types are generated from
 * prisma/schema.prisma (prisma-kysely), so a column renamed there breaks the type check of every
 * statement that names it; Prisma stays the schema, the migrations and the admin CRUD.
 *
 * Timestamps: Prisma stores UTC wall-clock time in `timestamp without time zone`, and pg would read
 * and write those in the process's local zone; statements here pass instants as ISO strings cast to
 * ::timestamp and read them back with utcTimestamp() on a ::text column.
 */
export function createTypedSql(pool: pg.Pool): TypedSql {
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
  poolOf.set(db, pool)
  return db
}

/** Builds statements without a database: the text of a PreparedStatement is compiled once at start. */
const builder = new Kysely<DB>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
})

/** The `n`th parameter of a prepared statement (from 1), cast to `type` (`text[]`, `timestamp`, ...). */
export function param<T>(n: number, type: string): RawBuilder<T> {
  return sql<T>`${sql.raw(`$${n}::${type}`)}`
}

/**
 * A hot-path statement written once with the typed builder and run as a named prepared statement:
 * per call neither the builder nor its compiler runs, and PostgreSQL parses and plans it once per
 * connection instead of once per call (measured on the send-accept path: the builder and compiler
 * were ~7 % of the API's CPU, and the batch statement's parse and plan a large share of PostgreSQL's).
 * Its values are numbered placeholders (param()): the builder itself must add none, else the
 * numbering would clash, which the constructor refuses.
 */
export class PreparedStatement<Row> {
  readonly text: string

  /**
   * `planEachCall`: sent unnamed, so PostgreSQL plans it for each call's values (a custom plan). For
   * statements whose generic plan is worse than planning anew: measured on the send accept's write
   * statement, the generic plan PostgreSQL switches to after five calls took twice as long.
   */
  constructor(
    readonly name: string,
    build: (db: TypedSql) => Compilable<Row>,
    private readonly options: { planEachCall?: boolean } = {},
  ) {
    const compiled = build(builder).compile()
    if (compiled.parameters.length > 0)
      throw new Error(`prepared statement ${name} has builder parameters: use param() placeholders`)
    this.text = compiled.sql
  }

  async run(db: TypedSql, values: unknown[]): Promise<Row[]> {
    const pool = poolOf.get(db)
    if (!pool) throw new Error('a prepared statement runs on a TypedSql made by createTypedSql()')
    const result = await pool.query(
      this.options.planEachCall ? { text: this.text, values } : { name: this.name, text: this.text, values },
    )
    return result.rows as Row[]
  }
}

/** An instant as Prisma stores it (`timestamp(3)` holding UTC). */
export function timestampParam(at: Date): string {
  return at.toISOString()
}

/** A `timestamp::text` value as PostgreSQL prints it ("2026-11-29 18:00:00.123"), read as UTC. */
export function utcTimestamp(text: string | null): Date | null {
  return text === null ? null : new Date(`${text.replace(' ', 'T')}Z`)
}
