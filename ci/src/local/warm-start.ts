import { setPriority } from 'node:os'
import { Agent, request } from 'undici'

// Smooth rollouts on a small machine: a new version starts beside the one that serves, and a Node process
// spends its first seconds compiling — on two cores that CPU comes out of the serving replicas' latency.
// So the new processes start at a lower CPU priority, one replica at a time, and a replica counts as ready
// only once warm: its hot routes answered a few rounds of requests (JIT, connection pools, caches), so the
// first real requests after the switch do not pay for that either.

/** Niceness of a process that is still starting (0 is normal; higher yields the CPU to the others). */
export const STARTING_NICENESS = 10

/** Lowers (or restores) a process's CPU priority; false when the system refuses (restoring needs privileges). */
export function renice(pid: number, niceness: number): boolean {
  try {
    setPriority(pid, niceness)
    return true
  } catch {
    return false
  }
}

export interface WarmUpOptions {
  /** Rounds over every path that always run (default 20). */
  rounds?: number
  parallel?: number
  /**
   * Warm means answering fast: after the fixed rounds, more rounds run (up to maxExtraRounds) until one
   * round's slowest answer is under this many ms (default 250).
   */
  settledMs?: number
  maxExtraRounds?: number
}

export interface WarmUpResult {
  ms: number
  /** Whether the last round answered under settledMs (false: the cap of extra rounds was reached). */
  settled: boolean
  /** Slowest answer of the last round, ms. */
  lastRoundMaxMs: number
}

/**
 * Sends rounds of requests to each path (a few in parallel, as traffic would) until the replica answers
 * them fast. Any status counts: warming is about the code paths, the readiness check already passed.
 */
export async function warmUp(
  origin: string,
  paths: { path: string; headers?: Record<string, string> }[],
  options: WarmUpOptions = {},
): Promise<WarmUpResult> {
  const { rounds = 20, parallel = 4, settledMs = 250, maxExtraRounds = 20 } = options
  const agent = new Agent({ connections: parallel })
  const began = Date.now()
  const round = async (count: number): Promise<number> => {
    const queue = Array.from({ length: count }, () => paths).flat()
    let slowest = 0
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const sent = Date.now()
          const response = await request(`${origin}${next.path}`, {
            dispatcher: agent,
            ...(next.headers ? { headers: next.headers } : {}),
            headersTimeout: 5_000,
            bodyTimeout: 5_000,
          }).catch(() => undefined)
          await response?.body.dump()
          slowest = Math.max(slowest, Date.now() - sent)
        }
      }),
    )
    return slowest
  }
  try {
    let last = await round(rounds)
    let extra = 0
    while (last >= settledMs && extra < maxExtraRounds) {
      last = await round(1)
      extra += 1
    }
    return { ms: Date.now() - began, settled: last < settledMs, lastRoundMaxMs: last }
  } finally {
    await agent.close()
  }
}
