import { excerpt } from '@whatsapp-saas/service-client/http-client'
import { failed, passed, type SmokeCheck } from '../smoke-check.js'

/** `/api/v1/status` answers, and reports the version that was just deployed (when the caller knows it). */
export const versionCheck: SmokeCheck = {
  name: 'version',
  async run(ctx) {
    const response = await ctx.http(ctx.url('/api/v1/status'))
    if (response.status !== 200) return failed(`GET /api/v1/status answered ${response.status}`)
    const version = (response.json as { version?: unknown } | undefined)?.version
    if (typeof version !== 'string' || version === '') {
      return failed(`GET /api/v1/status has no version: ${excerpt(response.text)}`)
    }
    if (ctx.expectVersion === undefined) return passed(`version ${version} (no expected version given)`)
    if (version !== ctx.expectVersion)
      return failed(`version ${version} is serving, expected ${ctx.expectVersion}`)
    return passed(`version ${version} as expected`)
  },
}
