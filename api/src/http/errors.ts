/**
 * Typed errors of the HTTP API. Route code throws these; the error-handler plugin maps them to the
 * single response shape `{ "error": { "code", "message", "details" } }` in one place.
 */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message)
    this.name = new.target.name
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details: unknown = null) {
    super(400, 'VALIDATION_ERROR', message, details)
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'missing or invalid credentials') {
    super(401, 'UNAUTHORIZED', message)
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'not allowed') {
    super(403, 'FORBIDDEN', message)
  }
}

/** Also answered for another tenant's resources, so their existence is not revealed. */
export class NotFoundError extends AppError {
  constructor(resource: string) {
    super(404, 'NOT_FOUND', `${resource} not found`)
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details: unknown = null) {
    super(409, code, message, details)
  }
}

export class UnprocessableError extends AppError {
  constructor(code: string, message: string, details: unknown = null) {
    super(422, code, message, details)
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(message: string) {
    super(503, 'SERVICE_UNAVAILABLE', message)
  }
}

/**
 * PostgreSQL or Redis stayed unreachable past the bound a request waits for it (DEPENDENCY_WAIT_MS):
 * answered 503 with Retry-After, so a client retries later instead of reading it as a failure of its request.
 */
export class DependencyUnavailableError extends AppError {
  constructor(
    readonly dependency: 'database' | 'redis',
    readonly retryAfterSeconds = 5,
  ) {
    super(503, 'DEPENDENCY_UNAVAILABLE', `${dependency} unavailable, retry later`)
  }
}
