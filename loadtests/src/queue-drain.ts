import { request } from 'undici'

/**
 * Waits (bounded) until the service's queues hold no waiting or active jobs, as `GET /api/v1/status`
 * reports them. Each scenario leaves work for the workers; the next one is measured once that work
 * is done, so that it measures itself and not its predecessor's backlog. Returns what it saw, for the log.
 * Queue depths are shown to the platform admin only: without `adminToken` (or when the status endpoint is
 * absent or unreachable) the service is not waited for.
 */
export async function waitForQueuesToDrain(
  baseUrl: string,
  maxWaitMs: number,
  signal: AbortSignal,
  pollMs = 250,
  adminToken?: string,
): Promise<'drained' | 'still busy' | 'unknown'> {
  if (!adminToken) return 'unknown'
  const deadline = Date.now() + maxWaitMs
  for (;;) {
    const pending = await pendingJobs(baseUrl, adminToken, signal)
    if (pending === undefined) return 'unknown'
    if (pending === 0) return 'drained'
    if (Date.now() + pollMs > deadline || signal.aborted) return 'still busy'
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
}

type QueueCounts = Record<string, { waiting?: number; active?: number }>

async function pendingJobs(
  baseUrl: string,
  adminToken: string,
  signal: AbortSignal,
): Promise<number | undefined> {
  try {
    const response = await request(`${baseUrl}/api/v1/status`, {
      signal,
      headers: { authorization: `Bearer ${adminToken}` },
      headersTimeout: 2_000,
      bodyTimeout: 2_000,
    })
    if (response.statusCode !== 200) {
      await response.body.dump()
      return undefined
    }
    const { queues } = (await response.body.json()) as { queues?: QueueCounts }
    if (!queues) return undefined
    return Object.values(queues).reduce((sum, q) => sum + (q.waiting ?? 0) + (q.active ?? 0), 0)
  } catch {
    return undefined
  }
}
