import { failed, missingInputs, passed, type SmokeCheck } from '../smoke-check.js'

/** The tenant API answers with the API key and refuses the same call without it. */
export const authenticatedReadCheck: SmokeCheck = {
  name: 'authenticated-read',
  async run(ctx) {
    const missing = missingInputs(ctx.env, ['apiKey'])
    if (missing) return missing
    const url = ctx.url('/api/v1/messages?limit=1')
    const withKey = await ctx.http(url, {
      headers: { authorization: `Bearer ${ctx.env.apiKey!}` },
    })
    if (withKey.status !== 200)
      return failed(`GET /api/v1/messages with the API key answered ${withKey.status}`)
    const withoutKey = await ctx.http(url)
    if (withoutKey.status !== 401) {
      return failed(`GET /api/v1/messages without a key answered ${withoutKey.status}, expected 401`)
    }
    return passed('GET /api/v1/messages 200 with the API key, 401 without')
  },
}
