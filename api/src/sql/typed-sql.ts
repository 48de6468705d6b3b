import { Kysely, PostgresDialect } from 'kysely'
import type pg from 'pg'
import type { DB } from '../generated/kysely/types.js'

export type { DB }
export type TypedSql = Kysely<DB>

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
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
}

/** An instant as Prisma stores it (`timestamp(3)` holding UTC). */
export function timestampParam(at: Date): string {
  return at.toISOString()
}

/** A `timestamp::text` value as PostgreSQL prints it ("2026-11-29 18:00:00.123"), read as UTC. */
export function utcTimestamp(text: string | null): Date | null {
  return text === null ? null : new Date(`${text.replace(' ', 'T')}Z`)
}
