import type { FastifyInstance } from 'fastify'

/**
 * Graceful stop of the HTTP API: readiness answers 503 at once (load balancers stop routing here), the
 * listener stops accepting, requests in flight run to completion, then onClose hooks close the pools.
 * The caller bounds it with SHUTDOWN_TIMEOUT_MS.
 */
export async function shutdownGracefully(app: FastifyInstance): Promise<void> {
  app.readiness.shuttingDown = true
  await app.close()
}
