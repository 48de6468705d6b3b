import { isDeepStrictEqual } from 'node:util'
import { excerpt } from '@whatsapp-saas/service-client/http-client'
import { failed, passed, type SmokeCheck } from '../smoke-check.js'

const HEALTHY = { status: 'ok', database: 'connected', redis: 'connected' }

/** Readiness: the exact healthy body, nothing more or less, so a half-broken service cannot pass. */
export const healthCheck: SmokeCheck = {
  name: 'health',
  async run(ctx) {
    const response = await ctx.http(ctx.url('/health'))
    if (response.status !== 200)
      return failed(`GET /health answered ${response.status}: ${excerpt(response.text)}`)
    if (!isDeepStrictEqual(response.json, HEALTHY)) {
      return failed(`GET /health body is not ${JSON.stringify(HEALTHY)}: ${excerpt(response.text)}`)
    }
    return passed('GET /health 200, database and redis connected')
  },
}

export const livenessCheck: SmokeCheck = {
  name: 'liveness',
  async run(ctx) {
    const response = await ctx.http(ctx.url('/health/live'))
    if (response.status !== 200) return failed(`GET /health/live answered ${response.status}`)
    return passed('GET /health/live 200')
  },
}
