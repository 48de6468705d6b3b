/**
 * Meta's own throttles, emulated in memory so that an over-eager sender meets 130429 (per phone
 * number) and 131056 (per business/user pair) without a scripted fault. The number's throughput is
 * counted per rolling second, as Meta states it (at most `throughputMps` in any second); the pair
 * rate is a GCRA scheduler (a token bucket expressed as a "theoretical arrival time"). Hand-written:
 * a few lines, in-process, and no library is needed for a single-process fake.
 */
export interface OrganicLimitsConfig {
  /** Messages per second per phone number; absent = unlimited. */
  throughputMps?: number
  /** Pair rate: one message per `pairIntervalMs` with a burst of `pairBurst`; absent = unlimited. */
  pairIntervalMs?: number
  pairBurst?: number
}

class Gcra {
  private readonly tat = new Map<string, number>()

  constructor(
    private readonly intervalMs: number,
    private readonly burst: number,
  ) {}

  allow(key: string, now: number): boolean {
    const tat = Math.max(this.tat.get(key) ?? now, now)
    if (tat - now > this.intervalMs * (this.burst - 1)) return false
    this.tat.set(key, tat + this.intervalMs)
    if (this.tat.size > 100_000) this.tat.clear() // bounded memory under long load runs
    return true
  }
}

/** At most `limit` accepted calls per key in any rolling `windowMs` (the last `limit` times, kept). */
class RollingWindow {
  private readonly accepted = new Map<string, { times: number[]; next: number }>()

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  allow(key: string, now: number): boolean {
    let ring = this.accepted.get(key)
    if (!ring) {
      if (this.accepted.size > 100_000) this.accepted.clear() // bounded memory under long load runs
      ring = { times: [], next: 0 }
      this.accepted.set(key, ring)
    }
    if (ring.times.length < this.limit) {
      ring.times.push(now)
      return true
    }
    // The oldest of the last `limit` accepted calls: a new one is the (limit+1)th within the window.
    if (now - ring.times[ring.next]! < this.windowMs) return false
    ring.times[ring.next] = now
    ring.next = (ring.next + 1) % this.limit
    return true
  }
}

export class OrganicLimits {
  private perNumber?: RollingWindow
  private perPair?: Gcra

  constructor(config: OrganicLimitsConfig = {}) {
    this.configure(config)
  }

  configure(config: OrganicLimitsConfig): void {
    // Counted as Meta states the limit: per rolling second. (A token bucket with some burst would
    // both refuse a legal burst inside a quiet second and accept more than the limit in a busy one.)
    this.perNumber = config.throughputMps ? new RollingWindow(config.throughputMps, 1_000) : undefined
    this.perPair = config.pairIntervalMs ? new Gcra(config.pairIntervalMs, config.pairBurst ?? 1) : undefined
  }

  /** The error code Meta would answer this send with, or undefined when it passes. */
  check(phoneNumberId: string, to: string, now: number): number | undefined {
    if (this.perNumber && !this.perNumber.allow(phoneNumberId, now)) return 130429
    if (this.perPair && !this.perPair.allow(`${phoneNumberId}:${to}`, now)) return 131056
    return undefined
  }
}
