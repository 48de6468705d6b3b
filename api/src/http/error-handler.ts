import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { isConnectionError } from '../db/dependency-outage.js'
import { Prisma } from '../generated/prisma/client.js'
import { AppError, DependencyUnavailableError } from './errors.js'

export interface ErrorBody {
  error: { code: string; message: string; details: unknown }
}

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

/**
 * Maps every error to the one error shape: typed AppErrors as declared, schema validation to 400
 * naming the field, Fastify's own client errors (body too large, bad JSON) with their status, and
 * anything else to a 500 without internals (the stack goes to the log only).
 */
export const errorHandlerPlugin = fp(
  async (app: FastifyInstance) => {
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
