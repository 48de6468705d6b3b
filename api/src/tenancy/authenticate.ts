import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { constantTimeEqual } from '../crypto/digest.js'
import { ForbiddenError, UnauthorizedError } from '../http/errors.js'
import { ApiKeyCache } from './api-key-cache.js'
import { touchApiKey, verifyApiKey } from './api-keys.js'
import type { ApiKeyScope } from './scopes.js'

export interface Tenant {
  organizationId: string
  apiKeyId: string
  scopes: string[]
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const [scheme, token] = header.split(' ', 2)
  return scheme?.toLowerCase() === 'bearer' && token ? token.trim() : undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler of tenant routes: a valid API key holding `scope`, else 401/403. */
    requireTenant(scope: ApiKeyScope): (request: FastifyRequest) => Promise<void>
    /** preHandler of platform-admin routes: Bearer ADMIN_TOKEN, compared in constant time. */
    requireAdmin(request: FastifyRequest): Promise<void>
    /** Verified API keys of this process; revocation paths clear it through announceApiKeyRevocation. */
    apiKeyCache: ApiKeyCache
  }
}

export const authenticationPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorateRequest('tenant', null as unknown as Tenant)
    const cache = new ApiKeyCache(app.deps.redis)
    app.decorate('apiKeyCache', cache)
    app.addHook('onReady', async () => {
      await cache.poll()
      cache.start()
    })
    app.addHook('onClose', () => cache.stop())

    app.decorate('requireTenant', (scope: ApiKeyScope) => async (request: FastifyRequest) => {
      const token = bearerToken(request)
      if (!token) throw new UnauthorizedError('missing Authorization: Bearer <api key>')
      let key = cache.get(token)
      if (!key) {
        const generation = cache.snapshot()
        key = (await verifyApiKey(app.deps.prisma, token)) ?? undefined
        if (key) cache.set(token, key, key.expiresAt, generation)
      }
      if (!key) throw new UnauthorizedError('invalid, revoked or expired API key')
      if (!key.scopes.includes(scope)) throw new ForbiddenError(`API key lacks the scope ${scope}`)
      request.tenant = { organizationId: key.organizationId, apiKeyId: key.id, scopes: key.scopes }
      // Bookkeeping must not fail or slow the request: it runs in the background.
      app.runInBackground(touchApiKey(app.deps.prisma, key))
    })

    app.decorate('requireAdmin', async (request: FastifyRequest) => {
      const token = bearerToken(request)
      if (!token || !constantTimeEqual(token, app.config.adminToken))
        throw new UnauthorizedError('missing or invalid admin token')
    })
  },
  { name: 'authentication' },
)
