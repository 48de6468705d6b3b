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

/**
 * Sends `rounds` rounds of requests to each path (a few in parallel, as traffic would) and resolves when all
 * answered. Any status counts: warming is about the code paths, the readiness check already passed.
 */
export async function warmUp(
  origin: string,
  paths: { path: string; headers?: Record<string, string> }[],
  rounds = 20,
  parallel = 4,
): Promise<number> {
  const agent = new Agent({ connections: parallel })
  const began = Date.now()
  try {
    const queue = Array.from({ length: rounds }, () => paths).flat()
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const response = await request(`${origin}${next.path}`, {
            dispatcher: agent,
            ...(next.headers ? { headers: next.headers } : {}),
            headersTimeout: 5_000,
            bodyTimeout: 5_000,
          }).catch(() => undefined)
          await response?.body.dump()
        }
      }),
    )
  } finally {
    await agent.close()
  }
  return Date.now() - began
}
