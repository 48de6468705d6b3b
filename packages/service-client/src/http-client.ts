import { request } from 'undici'

export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown
}

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'DELETE'
  headers?: Record<string, string>
  body?: string
  /** Whole-call budget: connect, headers and body. */
  timeoutMs: number
  /** Cancels the call early (e.g. the pipeline stage was aborted). */
  signal?: AbortSignal
}

/** One HTTP call with a hard deadline; a timeout or connection error rejects with a message naming the URL. */
export async function httpCall(url: string, options: HttpRequest): Promise<HttpResponse> {
  const { pathname } = new URL(url)
  try {
    const response = await request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      body: options.body,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      signal: options.signal
        ? AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.signal])
        : AbortSignal.timeout(options.timeoutMs),
    })
    const text = await response.body.text()
    return { status: response.statusCode, headers: response.headers, text, json: parseJson(text) }
  } catch (error) {
    const reason =
      error instanceof Error ? (error.name === 'TimeoutError' ? 'timed out' : error.message) : String(error)
    throw new Error(
      `${options.method ?? 'GET'} ${pathname} failed: ${reason} (limit ${options.timeoutMs} ms)`,
    )
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** A short, single-line excerpt of a response body for failure messages. */
export function excerpt(text: string, max = 160): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > max ? `${line.slice(0, max)}…` : line
}
