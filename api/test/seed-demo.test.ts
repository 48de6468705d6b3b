import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decryptSecret } from '../src/crypto/secret-box.js'
import { seedDemo } from '../src/tenancy/seed-demo.js'
import { startTestEnvironment, TEST_SECRETS, type TestApp, type TestEnvironment } from './harness/index.js'

let env: TestEnvironment
let t: TestApp
beforeAll(async () => {
  env = await startTestEnvironment()
  t = await env.startApp()
})
afterAll(async () => {
  await env?.stop()
})

describe('seedDemo', () => {
  it('is idempotent and returns a working fresh key each time', async () => {
    const options = {
      graphPhoneNumberId: '106540352242922',
      wabaId: '102290129340398',
      accessToken: 'fake-graph-token',
      encryptionKey: TEST_SECRETS.encryptionKey,
    }
    const first = await seedDemo(t.prisma, options)
    const second = await seedDemo(t.prisma, { ...options, accessToken: 'rotated-token' })
    expect(second.organizationId).toBe(first.organizationId)
    expect(second.phoneNumberId).toBe(first.phoneNumberId)
    expect(second.apiKey).not.toBe(first.apiKey)
    expect(await t.prisma.organization.count({ where: { slug: 'demo' } })).toBe(1)
    expect(await t.prisma.phoneNumber.count({ where: { phoneNumberId: options.graphPhoneNumberId } })).toBe(1)
    const phone = await t.prisma.phoneNumber.findUniqueOrThrow({ where: { id: second.phoneNumberId } })
    expect(decryptSecret(phone.accessTokenEnc, TEST_SECRETS.encryptionKey)).toBe('rotated-token')
    for (const key of [first.apiKey, second.apiKey]) {
      const response = await t.app.inject({
        method: 'GET',
        url: '/api/v1/phone-numbers',
        headers: { authorization: `Bearer ${key}` },
      })
      expect(response.json().data.map((p: { phoneNumberId: string }) => p.phoneNumberId)).toEqual([
        options.graphPhoneNumberId,
      ])
    }
  })
})
