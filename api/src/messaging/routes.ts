import type { FastifyInstance } from 'fastify'
import { outboundRoutes } from './outbound-routes.js'

/** Every HTTP route of the messaging feature (registered once in app.ts). */
export async function messagingRoutes(app: FastifyInstance): Promise<void> {
  await app.register(outboundRoutes)
}
