import type { FastifyInstance } from 'fastify'
import { outboundRoutes } from './outbound-routes.js'
import { templateRoutes } from './template-routes.js'
import { webhookEndpointRoutes } from './webhook-endpoint-routes.js'

/** Every HTTP route of the messaging feature (registered once in app.ts). */
export async function messagingRoutes(app: FastifyInstance): Promise<void> {
  await app.register(outboundRoutes)
  await app.register(templateRoutes)
  await app.register(webhookEndpointRoutes)
}
