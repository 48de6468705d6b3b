import { Agent, errors, request } from 'undici'
import { classifyGraphError, type GraphErrorClass } from './graph-error-class.js'

/** What happened to one send, as far as the sender can know. */
export type SendOutcome =
  | { kind: 'accepted'; wamid: string }
  | {
      kind: 'error'
      errorClass: GraphErrorClass
      httpStatus: number
      code?: number
      title: string
      details?: string
    }
  /** The request never left this process (connection refused, DNS): safe to send again. */
  | { kind: 'not-sent'; reason: string }
  /** The request may have reached Meta (timeout or connection lost after writing it). */
  | { kind: 'ambiguous'; reason: string }

export interface GraphClientOptions {
  baseUrl: string
  /**
   * SYNTHETIC_GRAPH_API_BASE_URL (staging's fake Graph API): the only per-number base URL honoured. A number
   * whose stored override differs (or any override when this is unset, as in production) uses `baseUrl`.
   */
  syntheticBaseUrl?: string
  version: string
  /** Whole-call timeout (headers and body). */
  timeoutMs: number
  /** Connections per Graph origin; the sender's concurrency bound. */
  connections?: number
}

interface GraphErrorBody {
  error?: { code?: number; message?: string; error_data?: { details?: string }; error_subcode?: number }
}

// Connection-phase failures: the request bytes were never written, so nothing reached Meta.
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
])

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '')

/**
 * Where a number's Graph calls go: its stored override only when it is the deployment's synthetic Graph API
 * (checked again at each call, so a row copied from staging into production cannot redirect its traffic).
 */
export function graphBaseUrlFor(
  numberBaseUrl: string | null | undefined,
  options: Pick<GraphClientOptions, 'baseUrl' | 'syntheticBaseUrl'>,
): string {
  if (numberBaseUrl && options.syntheticBaseUrl && sameUrl(numberBaseUrl, options.syntheticBaseUrl))
    return options.syntheticBaseUrl
  return options.baseUrl
}

/** True when a per-number Graph base URL may be stored: it equals SYNTHETIC_GRAPH_API_BASE_URL. */
export function isAllowedGraphOverride(value: string, syntheticBaseUrl: string | undefined): boolean {
  return syntheticBaseUrl !== undefined && sameUrl(value, syntheticBaseUrl)
}

// undici's own rule for a header value (lib/core/util.js, isValidHeaderValue).
const HEADER_VALUE_REFUSED = /[^\t\x20-\x7e\x80-\xff]/

/** True when undici accepts `Bearer <token>` as a header value (it refuses control characters and code points above U+00FF). */
export function isSendableHeaderValue(token: string): boolean {
  return !HEADER_VALUE_REFUSED.test(token)
}

/** Thin client of the Graph endpoints the service uses, over one pooled undici Agent. */
export class GraphClient {
  private readonly agent: Agent

  constructor(private readonly options: GraphClientOptions) {
    this.agent = new Agent({
      connections: options.connections ?? 64,
      keepAliveTimeout: 30_000,
      connect: { timeout: Math.min(options.timeoutMs, 5_000) },
    })
  }

  private url(path: string, numberBaseUrl?: string | null): string {
    const base = graphBaseUrlFor(numberBaseUrl, this.options)
    return `${base.replace(/\/+$/, '')}/${this.options.version}/${path}`
  }

  /** `numberBaseUrl`: the phone number's stored Graph base URL override, if any. */
  async sendMessage(
    phoneNumberId: string,
    accessToken: string,
    payload: unknown,
    numberBaseUrl?: string | null,
  ): Promise<SendOutcome> {
    // The same guard as listTemplates': a refused header value would leave a pool connection busy for good,
    // and after `connections` of them every send of every number would wait forever. Such a token can never
    // authenticate, so the answer is the one for an invalid token (the number is marked AUTH_INVALID).
    if (!isSendableHeaderValue(accessToken))
      return {
        kind: 'error',
        errorClass: 'auth',
        httpStatus: 0,
        title: 'the stored access token is not a valid HTTP header value',
      }
    try {
      const response = await request(
        this.url(`${encodeURIComponent(phoneNumberId)}/messages`, numberBaseUrl),
        {
          method: 'POST',
          dispatcher: this.agent,
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(payload),
          headersTimeout: this.options.timeoutMs,
          bodyTimeout: this.options.timeoutMs,
        },
      )
      const text = await response.body.text()
      const json = parseJson(text) as (GraphErrorBody & { messages?: Array<{ id?: string }> }) | undefined
      const wamid = json?.messages?.[0]?.id
      if (response.statusCode >= 200 && response.statusCode < 300 && wamid) return { kind: 'accepted', wamid }
      return graphError(response.statusCode, json)
    } catch (error) {
      const code = (error as { code?: string }).code ?? ''
      const causeCode = ((error as { cause?: { code?: string } }).cause?.code as string | undefined) ?? ''
      if (
        NOT_SENT_CODES.has(code) ||
        NOT_SENT_CODES.has(causeCode) ||
        error instanceof errors.ConnectTimeoutError
      )
        return { kind: 'not-sent', reason: code || causeCode || (error as Error).message }
      return { kind: 'ambiguous', reason: code || (error as Error).message }
    }
  }

  /**
   * `GET /{waba-id}/message_templates`, following `paging.next` (bounded by maxPages). `signal` ends the
   * listing early (the caller's deadline): a dispatched request is aborted and the call rejects with it.
   */
  async listTemplates(
    wabaId: string,
    accessToken: string,
    maxPages = 50,
    numberBaseUrl?: string | null,
    signal?: AbortSignal,
  ): Promise<GraphTemplate[]> {
    // undici refuses such a value while dispatching, and its pool then counts that connection as busy
    // for good: after `connections` refusals every later call of this client waits in the pool's queue,
    // where neither headersTimeout nor an abort signal reaches it. So it never gets that far.
    if (!isSendableHeaderValue(accessToken))
      throw new GraphRequestError('the stored access token is not a valid HTTP header value', undefined, 0)
    const templates: GraphTemplate[] = []
    let next: string | undefined =
      `${this.url(`${encodeURIComponent(wabaId)}/message_templates`, numberBaseUrl)}?limit=100`
    for (let page = 0; next && page < maxPages; page++) {
      signal?.throwIfAborted()
      const url = next
      // Unreachable, timed out or cut off: the same refusal as an error answer (the caller answers 503).
      const [response, text] = await request(url, {
        dispatcher: this.agent,
        headers: { authorization: `Bearer ${accessToken}` },
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        ...(signal ? { signal } : {}),
      })
        .then(async (answer) => [answer, await answer.body.text()] as const)
        .catch((error: unknown) => {
          if (signal?.aborted) throw signal.reason
          const code = (error as { code?: string }).code ?? (error as Error).message
          throw new GraphRequestError(`Graph API unreachable (${code})`, undefined, 0)
        })
      const json = parseJson(text) as
        | (GraphErrorBody & { data?: GraphTemplate[]; paging?: { next?: string } })
        | undefined
      if (response.statusCode !== 200) {
        const failure = graphError(response.statusCode, json)
        throw new GraphRequestError(failure.title, failure.code, response.statusCode)
      }
      templates.push(...(json?.data ?? []))
      next = json?.paging?.next
    }
    return templates
  }

  async close(): Promise<void> {
    await this.agent.close()
  }
}

export interface GraphTemplate {
  id: string
  name: string
  language: string
  status: string
  category: string
  components?: unknown[]
  rejected_reason?: string
}

export class GraphRequestError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly httpStatus: number,
  ) {
    super(message)
    this.name = 'GraphRequestError'
  }
}

function graphError(
  httpStatus: number,
  json: GraphErrorBody | undefined,
): Extract<SendOutcome, { kind: 'error' }> {
  const code = json?.error?.code
  const message = json?.error?.message ?? `HTTP ${httpStatus}`
  return {
    kind: 'error',
    errorClass: classifyGraphError(code, httpStatus),
    httpStatus,
    ...(code === undefined ? {} : { code }),
    // Meta's message is "(#code) title": keep the title only.
    title: message.replace(/^\(#\d+\)\s*/, ''),
    ...(json?.error?.error_data?.details ? { details: json.error.error_data.details } : {}),
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
