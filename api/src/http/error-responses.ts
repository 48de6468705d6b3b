import { type Static, type TUnsafe, Type } from '@sinclair/typebox'

/**
 * The one error body of the HTTP API, as the error handler (error-handler.ts) answers every error.
 * Registered once as a shared schema (`app.addSchema`), so routes refer to it and the OpenAPI document
 * holds it once, as `#/components/schemas/ErrorResponse`.
 */
const ERROR_RESPONSE_ID = 'ErrorResponse'

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. VALIDATION_ERROR, NOT_FOUND' }),
      message: Type.String({ description: 'What went wrong, naming the field when one is at fault' }),
      details: Type.Unknown({
        description:
          'null, or more about the error: [{field, message}] for invalid input, {fields} for a conflict',
      }),
    }),
  },
  { $id: ERROR_RESPONSE_ID, title: ERROR_RESPONSE_ID },
)
export type ErrorBody = Static<typeof ErrorResponse>

/** What each error status means in this API (the OpenAPI description of the response). */
const MEANING = {
  400: 'VALIDATION_ERROR naming the invalid field, or JSON_TOO_DEEP',
  401: 'UNAUTHORIZED: missing, invalid, revoked or expired credentials',
  403: 'FORBIDDEN: the credentials do not allow this (an API key lacking the scope)',
  404: "NOT_FOUND: no such resource in the caller's organization",
  409: 'A conflict: a unique value already used (SLUG_TAKEN, PHONE_NUMBER_TAKEN, CONTACT_EXISTS, CONFLICT) or a state that forbids the request',
  413: 'FST_ERR_CTP_BODY_TOO_LARGE: the body exceeds the limit',
  415: 'FST_ERR_CTP_INVALID_MEDIA_TYPE: the body is not application/json',
  422: 'INVALID_TEXT (text PostgreSQL cannot store, naming the field) or a value this deployment refuses',
  429: 'RATE_LIMITED: too many requests for this API key',
  500: 'INTERNAL: an unexpected failure (details in the log only)',
  503: 'DEPENDENCY_UNAVAILABLE (PostgreSQL or Redis away, with Retry-After) or SERVICE_UNAVAILABLE',
  504: 'TEMPLATE_SYNC_DEADLINE: the sync did not finish in time; details name the WABAs synced (kept) and not synced',
} as const
export type ErrorStatus = keyof typeof MEANING

/** Every route: a malformed parameter, query or body, unstorable text, a failure, a dependency away. */
export const ANY_ROUTE_ERRORS = [400, 422, 500, 503] as const satisfies readonly ErrorStatus[]
/** Routes of the platform admin (Bearer ADMIN_TOKEN), rate-limited like every /api/v1 route. */
export const ADMIN_ERRORS = [...ANY_ROUTE_ERRORS, 401, 429] as const
/** Routes of a tenant's API key: also 403 when the key lacks the route's scope. */
export const TENANT_ERRORS = [...ADMIN_ERRORS, 403] as const
/** Routes that read a JSON body. */
export const BODY_ERRORS = [413, 415] as const

/**
 * The `response` entries of the given error statuses, each a reference to the shared ErrorResponse:
 * `response: { 200: View, ...errorResponses(...TENANT_ERRORS, 404) }`.
 */
export function errorResponses<const S extends readonly ErrorStatus[]>(
  ...statuses: S
): { [K in S[number]]: TUnsafe<ErrorBody> } {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      Type.Unsafe<ErrorBody>(Type.Ref(ERROR_RESPONSE_ID, { description: MEANING[status] })),
    ]),
  ) as { [K in S[number]]: TUnsafe<ErrorBody> }
}

/**
 * The 204 answer of a deletion: no body at all (`reply.code(204).send()`). JSON Schema's `null` makes
 * OpenAPI list the status without content; the static type is `undefined`, so handlers send nothing.
 */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'Done; no body' })
