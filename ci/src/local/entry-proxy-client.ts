import { Agent, request } from 'undici'

export interface ProxyStatus {
  upstreams: string[]
  health: { origin: string; healthy: boolean }[]
  stats: { requests: number; retried: number; failed: number; ejected: number }
  port: number
  pid: number
}

async function call<T>(socketPath: string, method: 'GET' | 'PUT', body?: unknown): Promise<T> {
  const dispatcher = new Agent({ connect: { socketPath } })
  try {
    const response = await request('http://entry-proxy/upstreams', {
      method,
      dispatcher,
      headersTimeout: 60_000,
      ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    })
    const parsed = (await response.body.json()) as T & { error?: string }
    if (response.statusCode !== 200)
      throw new Error(`entry proxy refused: ${parsed.error ?? response.statusCode}`)
    return parsed
  } finally {
    await dispatcher.close()
  }
}

/** Switches the entry proxy to a new set of upstreams; resolves once the old set has no request in flight. */
export function switchUpstreams(socketPath: string, upstreams: string[]): Promise<{ drained: boolean }> {
  return call(socketPath, 'PUT', { upstreams })
}

export function proxyStatus(socketPath: string): Promise<ProxyStatus> {
  return call(socketPath, 'GET')
}
