import { type PostgresServer, startPostgres } from '@whatsapp-saas/local-services'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgPool } from '../../src/db/pg-pool.js'

let postgres: PostgresServer

beforeAll(async () => {
  postgres = await startPostgres()
}, 60_000)
afterAll(async () => {
  await postgres?.stop()
})

describe('pg pool', () => {
  it('survives the server dropping a connection that is lent out, and lends a working one next', async () => {
    const lost: Error[] = []
    const pool = createPgPool({ connectionString: postgres.url(), max: 2 }, (error) => lost.push(error))
    try {
      // Lent out and idle between two statements, as a transaction or a batch holds it.
      const held = await pool.connect()
      const { rows } = await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      // What a restart or failover does to it. Without a listener on the lent connection, this error
      // is an uncaught exception that ends the process.
      await pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
      await expect.poll(() => lost.length, { timeout: 5_000 }).toBeGreaterThan(0)
      expect(lost[0]!.message).toMatch(/terminat/i)

      // The holder's next statement fails with an error it can handle; the pool drops that connection.
      await expect(held.query('SELECT 1')).rejects.toThrow()
      held.release(true)
      const again = await pool.query<{ n: number }>('SELECT 1 AS n')
      expect(again.rows[0]!.n).toBe(1)
    } finally {
      await pool.end()
    }
  })
})
