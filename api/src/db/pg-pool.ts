import pg from 'pg'

/**
 * A pg pool whose connections never crash the process when the server drops them (restart, failover,
 * pg_terminate_backend).
 *
 * pg-pool listens for errors only on idle connections: a connection lent out (to a transaction, a
 * batch between two statements, the Prisma adapter) emits its error with no listener, which Node turns
 * into an uncaught exception. Each connection gets its own listener when it is made; the pool then
 * destroys the broken connection when its holder gives it back, and the holder's next statement fails
 * with an error it handles.
 */
export function createPgPool(config: pg.PoolConfig, onLost: (error: Error) => void = () => {}): pg.Pool {
  const pool = new pg.Pool(config)
  pool.on('error', onLost)
  pool.on('connect', (client) => client.on('error', onLost))
  return pool
}
