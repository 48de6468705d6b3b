import type { FastifyServerOptions } from 'fastify'
import type { LogLevel } from './config.js'

// Query parameters whose values are secrets (Meta's handshake sends hub.verify_token in the URL).
const SECRET_QUERY = /([?&][^=&]*(?:token|secret|key|signature)[^=&]*=)[^&]*/gi

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[REDACTED]')
}

/** Paths pino blanks out wherever they appear in a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-hub-signature-256"]',
  'headers.authorization',
  '*.accessToken',
  '*.accessTokenEnc',
  '*.token',
  '*.adminToken',
  '*.secret',
  '*.key',
  '*.password',
  '*.metaAppSecret',
  '*.metaAppSecretPrevious',
  '*.metaVerifyToken',
  '*.encryptionKey',
  '*.databaseUrl',
]

/** pino options of every process of the service: request ids, redaction, no query-string secrets. */
export function loggerOptions(level: LogLevel): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    serializers: {
      req: (request: { method: string; url: string; id: string; ip?: string }) => ({
        id: request.id,
        method: request.method,
        url: redactUrl(request.url),
        remoteAddress: request.ip,
      }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
    },
  }
}
