/**
 * Meta's own throttles, emulated in memory so that an over-eager sender meets 130429 (per phone
 * number) and 131056 (per business/user pair) without a scripted fault. Both are GCRA schedulers
 * (a token bucket expressed as a "theoretical arrival time"). Hand-written: ten lines, in-process,
 * and no library is needed for a single-process fake.
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

export class OrganicLimits {
  private perNumber?: Gcra
  private perPair?: Gcra

  constructor(config: OrganicLimitsConfig = {}) {
    this.configure(config)
  }

  configure(config: OrganicLimitsConfig): void {
    // A tenth of a second of burst: arrival jitter of a correctly paced sender is not punished.
    this.perNumber = config.throughputMps
      ? new Gcra(1000 / config.throughputMps, Math.max(1, Math.ceil(config.throughputMps / 10)))
      : undefined
    this.perPair = config.pairIntervalMs ? new Gcra(config.pairIntervalMs, config.pairBurst ?? 1) : undefined
  }

  /** The error code Meta would answer this send with, or undefined when it passes. */
  check(phoneNumberId: string, to: string, now: number): number | undefined {
    if (this.perNumber && !this.perNumber.allow(phoneNumberId, now)) return 130429
    if (this.perPair && !this.perPair.allow(`${phoneNumberId}:${to}`, now)) return 131056
    return undefined
  }
}
