import { createHash, randomBytes } from 'node:crypto'

/**
 * Id source. Ids look like Meta's (`wamid.` + base64 text). With a seed it is deterministic: the n-th
 * id of a given seed is always the same, so a test that replays the same calls sees the same wamids.
 * Without one each start (and each reset) draws a fresh random seed, so ids never repeat across
 * restarts: like Meta's, they stay unique for a database that outlives the fake (the local target
 * keeps its database across `local:down`, and a repeated wamid is an inbound message dropped as a
 * duplicate).
 */
export class SeededIds {
  private counter = 0
  private seed: string

  constructor(private readonly fixedSeed?: string) {
    this.seed = fixedSeed ?? randomSeed()
  }

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

  /** Back to the first id: the same ones again with a fixed seed, fresh ones without. */
  reset(): void {
    this.counter = 0
    this.seed = this.fixedSeed ?? randomSeed()
  }
}

function randomSeed(): string {
  return randomBytes(16).toString('hex')
}
