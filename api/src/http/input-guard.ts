import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ValidationError } from './errors.js'

/**
 * Deepest nesting of objects and arrays accepted in a JSON body. Meta's webhooks and this API's own
 * bodies stay below 12; PostgreSQL refuses jsonb deeper than its stack allows (a few thousand levels)
 * and schema validation recurses, so deeper bodies are refused before anything else looks at them.
 */
export const MAX_JSON_DEPTH = 64

export class JsonTooDeepError extends AppError {
  constructor() {
    super(400, 'JSON_TOO_DEEP', `body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`)
  }
}

export class InvalidTextError extends AppError {
  constructor(field: string, problem: string) {
    super(422, 'INVALID_TEXT', `${field} ${problem}`, [{ field, message: problem }])
  }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d

/**
 * Whether JSON text nests deeper than `limit`, found by one scan of the text before parsing (no
 * parser offers a depth limit, and measuring the parsed value would itself recurse that deep).
 * Works on bytes as on UTF-16 units: the characters it looks at are ASCII, which never occur inside a
 * multi-byte UTF-8 sequence. One loop per representation, indexed directly: every webhook delivery
 * is scanned, and a loop calling an accessor per character was ~3 % of the API's CPU under load.
 */
export function jsonNestsDeeperThan(text: Buffer | string, limit: number): boolean {
  return typeof text === 'string' ? stringNestsDeeperThan(text, limit) : bytesNestDeeperThan(text, limit)
}

function bytesNestDeeperThan(bytes: Buffer, limit: number): boolean {
  let depth = 0
  for (let index = 0; index < bytes.length; index++) {
    const code = bytes[index]!
    if (code === QUOTE) index = closingQuote(bytes, index)
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > limit) return true
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--
  }
  return false
}

/** Index of the quote closing the string opened at `open` (the end when unterminated), found natively. */
function closingQuote(bytes: Buffer, open: number): number {
  let at = bytes.indexOf(QUOTE, open + 1)
  while (at !== -1) {
    // Escaped when an odd number of backslashes precedes it.
    let backslashes = 0
    while (bytes[at - 1 - backslashes] === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return at
    at = bytes.indexOf(QUOTE, at + 1)
  }
  return bytes.length
}

function stringNestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (inString) {
      if (code === BACKSLASH) index++
      else if (code === QUOTE) inString = false
    } else if (code === QUOTE) inString = true
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > limit) return true
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--
  }
  return false
}

// A NUL character (PostgreSQL's text and jsonb cannot hold it) or a UTF-16 surrogate without its pair
// (not encodable as UTF-8: it would be stored as U+FFFD or refused by jsonb).
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why PostgreSQL could not store this text as given, or undefined when it can. */
export function unstorableText(value: string): string | undefined {
  const match = UNSTORABLE.exec(value)
  if (!match) return undefined
  return match[0] === '\u0000' ? 'contains a NUL character' : 'contains a lone UTF-16 surrogate'
}

/** The first string (key or value) in `value` that PostgreSQL cannot store, as [field, problem]. */
function findUnstorable(value: unknown, path: string): [string, string] | undefined {
  if (typeof value === 'string') {
    const problem = unstorableText(value)
    return problem ? [path, problem] : undefined
  }
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return undefined
  for (const [key, child] of Object.entries(value)) {
    const keyProblem = unstorableText(key)
    if (keyProblem) return [`${path} key`, keyProblem]
    const found = findUnstorable(child, `${path}.${key}`)
    if (found) return found
  }
  return undefined
}

/** The first number in `value` that is not finite (JSON's 1e999, a query's coerced "1e309"). */
function findNonFinite(value: unknown, path: string): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return undefined
  for (const [key, child] of Object.entries(value)) {
    const found = findNonFinite(child, `${path}.${key}`)
    if (found) return found
  }
  return undefined
}

function checkRequestText(request: FastifyRequest): void {
  for (const [context, value] of [
    ['params', request.params],
    ['querystring', request.query],
    ['body', request.body],
  ] as const) {
    const found = findUnstorable(value, context)
    if (found) throw new InvalidTextError(found[0], found[1])
  }
}

/**
 * Input limits shared by every route, applied before validation and before any database work:
 * JSON bodies deeper than MAX_JSON_DEPTH → 400 JSON_TOO_DEEP (the Meta webhook plugin applies the
 * same limit to its raw bytes); text with NUL or a lone surrogate in a path parameter, a query
 * parameter or anywhere in a JSON body (keys included) → 422 INVALID_TEXT naming the field; a number
 * that is not finite in a query or body → 400 VALIDATION_ERROR.
 */
export const inputGuardPlugin = fp(
  async (app: FastifyInstance) => {
    // Fastify's own parser (secure-json-parse, prototype poisoning refused), after the depth check.
    const parseJson = app.getDefaultJsonParser('error', 'error')
    app.removeContentTypeParser('application/json')
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (jsonNestsDeeperThan(body as string, MAX_JSON_DEPTH)) return done(new JsonTooDeepError(), undefined)
      return parseJson(request, body as string, done)
    })
    app.addHook('preValidation', async (request) => checkRequestText(request))
    // After validation, which coerces query strings: Ajv's integer check lets Infinity through and
    // then skips maximum, so `?limit=1e309` would reach the database as take: Infinity.
    app.addHook('preHandler', async (request) => {
      for (const [context, value] of [
        ['querystring', request.query],
        ['body', request.body],
      ] as const) {
        const field = findNonFinite(value, context)
        if (field)
          throw new ValidationError(`${field} must be a finite number`, [
            { field, message: 'must be finite' },
          ])
      }
    })
  },
  { name: 'input-guard' },
)
