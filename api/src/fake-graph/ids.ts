import { createHash } from 'node:crypto'

/**
 * Deterministic id source: the n-th id of a given seed is always the same, so a test run that
 * replays the same calls sees the same wamids. Ids look like Meta's (`wamid.` + base64 text).
 */
export class SeededIds {
  private counter = 0

  constructor(private readonly seed: string) {}

  next(prefix: string): string {
    this.counter += 1
    const digest = createHash('sha256').update(`${this.seed}:${prefix}:${this.counter}`).digest('base64url')
    return `${prefix}${digest.slice(0, 32)}`
  }

  /** A numeric id (Meta's template and fbtrace ids are digits). */
  nextNumeric(): string {
    this.counter += 1
    const digest = createHash('sha256').update(`${this.seed}:n:${this.counter}`).digest()
    return digest.readBigUInt64BE(0).toString().slice(0, 15)
  }

  reset(): void {
    this.counter = 0
  }
}
