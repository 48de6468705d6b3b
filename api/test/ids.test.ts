import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storeInboundMessage } from '../src/inbound/store-message.js'
import { startTestEnvironment, type TestApp, type TestEnvironment } from './harness/index.js'
import { seedPhoneNumber } from './messaging/fixtures.js'

// schema.prisma declares @default(uuid()); the raw inserts (store-message, the send accept, webhook
// ingest) generate UUIDs too: one format whichever path wrote the row.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let env: TestEnvironment
let t: TestApp
beforeAll(async () => {
  env = await startTestEnvironment()
  t = await env.startApp()
})
afterAll(async () => {
  await t?.close()
  await env?.stop()
})

describe('ids', () => {
  it('ORM and raw inserts give ids of the one format the schema declares', async () => {
    const tenant = await t.createTenant()
    const org = await t.prisma.organization.findUniqueOrThrow({ where: { id: tenant.organizationId } })
    expect(org.id).toMatch(UUID)
    const phone = await seedPhoneNumber(t.prisma, tenant.organizationId, '4000077')
    expect(phone.id).toMatch(UUID)
    await t.prisma.$transaction((tx) =>
      storeInboundMessage(tx, {
        phone: { id: phone.id, organizationId: tenant.organizationId, phoneNumberId: '4000077' },
        message: {
          id: 'wamid.ID1',
          from: '4915300000077',
          timestamp: '1700000000',
          type: 'text',
          text: { body: 'hi' },
        },
        contact: { wa_id: '4915300000077', profile: { name: 'Id' } },
        at: new Date(),
        optOutKeywords: [],
      } as never),
    )
    const message = await t.prisma.message.findUniqueOrThrow({ where: { wamid: 'wamid.ID1' } })
    const conversation = await t.prisma.conversation.findUniqueOrThrow({
      where: { id: message.conversationId },
    })
    for (const id of [message.id, conversation.id, conversation.contactId]) expect(id).toMatch(UUID)
  })
})
