import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { isConnectionError } from '../db/dependency-outage.js'
import { Prisma } from '../generated/prisma/client.js'
import { type ErrorBody, ErrorResponse } from './error-responses.js'
import { AppError, DependencyUnavailableError } from './errors.js'

function body(code: string, message: string, details: unknown = null): ErrorBody {
  return { error: { code, message, details } }
}

interface SchemaIssue {
  instancePath?: string
  params?: { missingProperty?: string; additionalProperty?: string }
  message?: string
}

/** "body/to" style path naming the offending field of a schema validation failure. */
function fieldOf(issue: SchemaIssue, context: string | undefined): string {
  const path = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.')
  const leaf = issue.params?.missingProperty ?? issue.params?.additionalProperty
  const field = [path, leaf].filter(Boolean).join('.')
  return `${context ?? 'body'}${field ? `.${field}` : ''}`
}

/** Codes of the unique fields clients meet; any other unique field answers CONFLICT. */
const UNIQUE_FIELD_CODES: Readonly<Record<string, string>> = {
  slug: 'SLUG_TAKEN',
  phoneNumberId: 'PHONE_NUMBER_TAKEN',
  waId: 'CONTACT_EXISTS',
  bsuid: 'CONTACT_EXISTS',
}

interface UniqueViolation {
  fields: string[]
  value?: string
}

/**
 * The fields of a unique-key violation: Prisma's P2002 (its `target`, or the driver adapter's constraint
 * fields) and PostgreSQL's 23505 from raw SQL (its detail `Key (slug)=(acme) already exists.`).
 */
export function uniqueViolationOf(error: unknown): UniqueViolation | undefined {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (error.code !== 'P2002') return undefined
    const meta = (error.meta ?? {}) as {
      target?: unknown
      driverAdapterError?: { cause?: { constraint?: { fields?: unknown } } }
    }
    const fromAdapter = meta.driverAdapterError?.cause?.constraint?.fields
    const target = Array.isArray(fromAdapter) ? fromAdapter : meta.target
    const fields = Array.isArray(target) ? target.map(String) : typeof target === 'string' ? [target] : []
    return { fields: fields.map((field) => field.replace(/^"|"$/g, '')) }
  }
  const pg = error as { code?: unknown; detail?: unknown }
  if (pg.code !== '23505') return undefined
  const match =
    typeof pg.detail === 'string' ? /^Key \((.+?)\)=\((.*)\) already exists/.exec(pg.detail) : null
  if (!match) return { fields: [] }
  return { fields: match[1]!.split(',').map((field) => field.trim().replace(/^"|"$/g, '')), value: match[2] }
}

/** 409 naming the field that is taken (the value from the database's message or the request's body). */
function conflictBody(violation: UniqueViolation, requestBody: unknown): ErrorBody {
  const field = violation.fields.find((name) => name !== 'organizationId') ?? violation.fields[0]
  if (!field) return body('CONFLICT', 'a unique value is already used', { fields: [] })
  const sent = (requestBody as Record<string, unknown> | undefined)?.[field]
  // A composite key's detail lists its values in the fields' order.
  const values = violation.value?.split(', ')
  const value =
    (values?.length === violation.fields.length
      ? values[violation.fields.indexOf(field)]
      : violation.value) ?? (typeof sent === 'string' || typeof sent === 'number' ? String(sent) : undefined)
  return body(
    UNIQUE_FIELD_CODES[field] ?? 'CONFLICT',
    `${field}${value === undefined ? '' : ` ${value}`} is already used`,
    { fields: violation.fields },
  )
}

/**
 * Maps every error to the one error shape: typed AppErrors as declared, schema validation to 400
 * naming the field, unique-key conflicts to 409 naming the field, Fastify's own client errors (body too large, bad JSON) with their status, and
 * anything else to a 500 without internals (the stack goes to the log only).
 */
export const errorHandlerPlugin = fp(
  async (app: FastifyInstance) => {
    // Routes declare their error statuses with a reference to this one schema (errorResponses()).
    app.addSchema(ErrorResponse)
    app.setErrorHandler((error: FastifyError, request, reply) => {
      // A dependency that stayed away past the request's bound, or a connection lost where repeating was
      // not safe: the request may be retried later, it did not fail on its own account.
      if (
        error instanceof DependencyUnavailableError ||
        (!(error instanceof AppError) && isConnectionError(error))
      ) {
        const retryAfter = error instanceof DependencyUnavailableError ? error.retryAfterSeconds : 5
        request.log.warn({ err: error }, 'dependency unavailable')
        return reply
          .status(503)
          .header('retry-after', String(retryAfter))
          .send(body('DEPENDENCY_UNAVAILABLE', 'a dependency is unavailable, retry later'))
      }
      if (error instanceof AppError) {
        return reply.status(error.statusCode).send(body(error.code, error.message, error.details))
      }
      if (error.validation) {
        const issues = error.validation.map((issue) => ({
          field: fieldOf(issue as SchemaIssue, error.validationContext),
          message: issue.message ?? 'is invalid',
        }))
        const first = issues[0]
        const message = first ? `${first.field} ${first.message}` : 'request is invalid'
        return reply.status(400).send(body('VALIDATION_ERROR', message, issues))
      }
      const violation = uniqueViolationOf(error)
      if (violation) return reply.status(409).send(conflictBody(violation, request.body))
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') {
        return reply.status(404).send(body('NOT_FOUND', 'resource not found'))
      }
      const status = error.statusCode ?? 500
      if (status >= 400 && status < 500) {
        const code = status === 429 ? 'RATE_LIMITED' : (error.code ?? 'BAD_REQUEST')
        return reply.status(status).send(body(code, error.message))
      }
      request.log.error({ err: error }, 'request failed')
      return reply.status(Math.max(status, 500)).send(body('INTERNAL', 'internal server error'))
    })

    app.setNotFoundHandler((request, reply) => {
      reply
        .status(404)
        .send(body('NOT_FOUND', `route ${request.method} ${request.url.split('?')[0]} not found`))
    })
  },
  { name: 'error-handler' },
)
