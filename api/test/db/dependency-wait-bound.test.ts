import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { retryWhileUnreachable, waitForConnections } from '../../src/db/dependency-outage.js'
import { DependencyUnavailableError } from '../../src/http/errors.js'

/** A pool whose server refuses every connection, counting the attempts. */
function refusingPool(): { pool: pg.Pool; attempts: () => number } {
  const pool = new pg.Pool({ max: 1 })
  let attempts = 0
  ;(pool as { connect: unknown }).connect = async () => {
    attempts += 1
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  }
  return { pool: waitForConnections(pool, 60_000), attempts: () => attempts }
}

describe('the dependency wait is one bound per piece of work', () => {
  it('a connection attempt inside work whose deadline has passed is tried once, then answered 503', async () => {
    const { pool, attempts } = refusingPool()
    // The work waited its whole bound already (queued behind other batches): the pool's own 60 s wait
    // must not start again for it.
    const outcome = retryWhileUnreachable(() => pool.connect(), Date.now() - 1)
    await expect(outcome).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(attempts()).toBe(1)
  })

  it('nested work takes the sooner of its own and the surrounding deadline', async () => {
    const { pool, attempts } = refusingPool()
    const outcome = retryWhileUnreachable(
      () => retryWhileUnreachable(() => pool.connect(), Date.now() + 60_000),
      Date.now() - 1,
    )
    await expect(outcome).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(attempts()).toBe(1)
  })
})
