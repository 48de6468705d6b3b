import { type PostgresServer, startPostgres } from '@whatsapp-saas/local-services'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgPool } from '../../src/db/pg-pool.js'
import { createTransactionSafePool } from '../../src/db/prisma.js'

let postgres: PostgresServer

beforeAll(async () => {
  postgres = await startPostgres()
}, 60_000)
afterAll(async () => {
  await postgres?.stop()
})

describe('transaction-safe pool', () => {
  it('rolls back a connection given back inside a transaction before lending it again', async () => {
    let abandoned = 0
    const pool = createTransactionSafePool({ connectionString: postgres.url(), max: 1 }, () => {
      abandoned += 1
    })
    try {
      await pool.query('CREATE TABLE abandoned (n int)')
      // What Prisma does when a transaction's maxWait runs out during BEGIN: release without ROLLBACK.
      const leaked = await pool.connect()
      await leaked.query('BEGIN')
      await leaked.query('INSERT INTO abandoned VALUES (1)')
      leaked.release()

      const next = await pool.connect()
      expect(next).toBe(leaked) // one connection: the same one comes back
      const rows = await next.query<{ n: number }>('SELECT count(*)::int AS n FROM abandoned')
      // Inside the abandoned transaction the row would be visible; rolled back, it is gone.
      expect(rows.rows[0]!.n).toBe(0)
      const inTransaction = await next.query<{ open: boolean }>(
        'SELECT now() <> statement_timestamp() OR txid_current_if_assigned() IS NOT NULL AS open',
      )
      expect(inTransaction.rows[0]!.open).toBe(false)
      next.release()
      expect(abandoned).toBe(1)
    } finally {
      await pool.end()
    }
  })

  it('leaves committed work and ordinary queries alone', async () => {
    let abandoned = 0
    const pool = createTransactionSafePool({ connectionString: postgres.url(), max: 1 }, () => {
      abandoned += 1
    })
    try {
      await pool.query('CREATE TABLE kept (n int)')
      const client = await pool.connect()
      await client.query('BEGIN')
      await client.query('INSERT INTO kept VALUES (1)')
      await client.query('COMMIT')
      client.release()
      await pool.query('INSERT INTO kept VALUES (2)')
      expect((await pool.query('SELECT count(*)::int AS n FROM kept')).rows[0].n).toBe(2)
      expect(abandoned).toBe(0)
    } finally {
      await pool.end()
    }
  })
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
