import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runSmoke } from '../src/index.js'
import { type FakeGraphProcess, startFakeGraphProcess } from './fake-graph-process.js'
import { type StandIn, startStandIn } from './stand-in-service.js'

const secrets = {
  apiKey: 'wsk_fake_graph_run',
  appSecret: 'shared-meta-app-secret',
  verifyToken: 'verify-with-fake-graph',
  phoneNumberId: '106540352242922',
}

let standIn: StandIn
let fakeGraph: FakeGraphProcess
beforeAll(async () => {
  standIn = await startStandIn(secrets)
  fakeGraph = await startFakeGraphProcess({
    webhookUrl: `${standIn.baseUrl}/webhooks/whatsapp`,
    appSecret: secrets.appSecret,
  })
})
afterAll(async () => {
  await fakeGraph?.stop()
  await standIn?.close()
})

describe('message-delivery with the project fake Graph API', () => {
  it('opens the window through the fake inbound call, whose signed webhook the service accepts', async () => {
    const report = await runSmoke({
      env: { baseUrl: standIn.baseUrl, fakeGraphUrl: fakeGraph.url, ...secrets },
      requestTimeoutMs: 5_000,
      deliveryTimeoutMs: 5_000,
      pollIntervalMs: 50,
    })
    expect(report.checks.find((check) => check.name === 'message-delivery')).toMatchObject({
      status: 'passed',
    })
    // The signed-webhook check's event plus the one the fake relayed, both for the demo number.
    expect(standIn.webhookPhoneNumberIds).toEqual([secrets.phoneNumberId, secrets.phoneNumberId])
  })

  it('fails when the service refuses the webhooks the fake relays', async () => {
    const wrongSecretFake = await startFakeGraphProcess({
      webhookUrl: `${standIn.baseUrl}/webhooks/whatsapp`,
      appSecret: 'a-different-secret',
    })
    try {
      const report = await runSmoke({
        env: { baseUrl: standIn.baseUrl, fakeGraphUrl: wrongSecretFake.url, ...secrets },
        deliveryTimeoutMs: 2_000,
        pollIntervalMs: 50,
      })
      const check = report.checks.find((c) => c.name === 'message-delivery')
      expect(check?.status).toBe('failed')
      expect(check?.detail).toMatch(/inbound webhook was not accepted by the service \(status 401\)/)
    } finally {
      await wrongSecretFake.stop()
    }
  })
})
