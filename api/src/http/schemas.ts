import { type SchemaOptions, type TLiteral, type TUnion, Type } from '@sinclair/typebox'

/** Shared TypeBox pieces of route schemas. */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })

export const DateTime = Type.String({ format: 'date-time' })
export const NullableDateTime = Type.Union([DateTime, Type.Null()])

export function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null
}

/**
 * A union of the given string literals, typed as their union: TypeBox types a union built from a mapped
 * array (not a tuple) as `never`, which the type provider would hand to handlers.
 */
export function LiteralUnion<const T extends readonly string[]>(values: T, options?: SchemaOptions) {
  return Type.Union(
    values.map((value) => Type.Literal(value)),
    options,
  ) as unknown as TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }>
}
