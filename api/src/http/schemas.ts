import { Type } from '@sinclair/typebox'

/** Shared TypeBox pieces of route schemas. */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })

export const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Unknown() }),
})

export const DateTime = Type.String({ format: 'date-time' })
export const NullableDateTime = Type.Union([DateTime, Type.Null()])

export function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null
}
