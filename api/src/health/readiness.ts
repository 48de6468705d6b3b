import { setTimeout as sleep } from 'node:timers/promises'

/**
 * What /health knows about this process beyond its dependencies, and what waits for its first answer.
 *
 * Readiness first, warm-up after: work that only makes later requests faster (loading Prisma's query
 * compiler, a wasm module of ~100 ms CPU) would otherwise run on the one JavaScript thread while the first
 * readiness probe waits for it. It starts once /health has answered 200 once, or after a fallback delay
 * when no probe comes; a request that needs it before then waits for it there, as it would anyway.
 */
export class Readiness {
  /** Set once shutdown begins: /health answers 503 from then on so load balancers stop routing here. */
  shuttingDown = false
  readonly #firstAnswered: Promise<void>
  #answered!: () => void

  constructor() {
    this.#firstAnswered = new Promise((resolve) => {
      this.#answered = resolve
    })
  }

  /** Called by /health whenever it answers 200. */
  answeredReady(): void {
    this.#answered()
  }

  /**
   * Runs `warm` after the first 200 of /health or `fallbackMs` after this call, whichever comes first;
   * not at all once `signal` aborts (the process is closing).
   */
  async afterFirstAnswer(
    fallbackMs: number,
    signal: AbortSignal,
    warm: () => Promise<unknown>,
  ): Promise<void> {
    const fallback = sleep(fallbackMs, undefined, { signal, ref: false }).catch(() => undefined)
    await Promise.race([this.#firstAnswered, fallback])
    if (!signal.aborted) await warm()
  }
}
