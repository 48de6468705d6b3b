import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { outboundRoutes } from './outbound-routes.js'
import { templateRoutes } from './template-routes.js'
import { webhookEndpointRoutes } from './webhook-endpoint-routes.js'

/** Every HTTP route of the messaging feature (registered once in app.ts). */
export const messagingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(outboundRoutes)
  await app.register(templateRoutes)
  await app.register(webhookEndpointRoutes)
}
