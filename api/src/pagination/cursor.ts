import { type Static, Type } from '@sinclair/typebox'
import { ValidationError } from '../http/errors.js'
import { unstorableText } from '../http/input-guard.js'

/**
 * Positions a cursor may name: the timestamps PostgreSQL stores and the driver writes as 4-digit-year
 * ISO text. A decoded cursor outside them (year 300000, 5000 BC) was never issued by this API.
 */
const EARLIEST_POSITION = Date.parse('0001-01-01T00:00:00.000Z')
const LATEST_POSITION = Date.parse('9999-12-31T23:59:59.999Z')

/**
 * Keyset pagination used by every list endpoint: newest first by (sort timestamp, id), an opaque
 * `cursor` naming the last row seen, `limit` 1..100 (default 50). Responses: { data, nextCursor }.
 * Keyset instead of OFFSET: pages stay stable while rows are inserted and cost the same at any depth.
 */
export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
})
export type PageQuery = Static<typeof PageQuery>

export function pageOf<T extends ReturnType<typeof Type.Object>>(item: T) {
  return Type.Object({ data: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) })
}

export interface CursorPosition {
  at: Date
  id: string
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.at.toISOString(), position.id])).toString('base64url')
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string]
    if (typeof at !== 'string' || typeof id !== 'string') throw new Error('bad cursor')
    const date = new Date(at)
    const time = date.getTime()
    if (!(time >= EARLIEST_POSITION && time <= LATEST_POSITION)) throw new Error('bad cursor')
    if (id.length === 0 || id.length > 64 || unstorableText(id)) throw new Error('bad cursor')
    return { at: date, id }
  } catch {
    throw new ValidationError('querystring.cursor is not a cursor returned by this endpoint', [
      { field: 'querystring.cursor', message: 'is invalid' },
    ])
  }
}

/** Prisma `where` and `orderBy` fragments for the page after `cursor`, sorted by `field` then id. */
export function keyset<F extends string>(field: F, query: PageQuery) {
  const position = query.cursor ? decodeCursor(query.cursor) : undefined
  const where = position
    ? { OR: [{ [field]: { lt: position.at } }, { [field]: position.at, id: { lt: position.id } }] }
    : {}
  return {
    where,
    orderBy: [{ [field]: 'desc' as const }, { id: 'desc' as const }],
    take: (query.limit ?? 50) + 1,
  }
}

/** Cuts the extra row fetched by keyset() and derives nextCursor from the last row kept. */
export function toPage<R extends { id: string }, V>(
  rows: R[],
  query: PageQuery,
  sortValue: (row: R) => Date,
  view: (row: R) => V,
): { data: V[]; nextCursor: string | null } {
  const limit = query.limit ?? 50
  const kept = rows.slice(0, limit)
  const last = kept.at(-1)
  return {
    data: kept.map(view),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: sortValue(last), id: last.id }) : null,
  }
}
