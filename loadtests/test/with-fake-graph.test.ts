import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeGraphProcess, startFakeGraphProcess } from '../../smoke/test/fake-graph-process.js'
import { MESSAGE_SEND_RECIPIENTS } from '../k6/scenarios.js'
import { runLoad } from '../src/index.js'
import { smallScenarios } from './small-scenarios.js'
import { type LoadStandIn, standInSecrets, startLoadStandIn } from './stand-in-service.js'

let standIn: LoadStandIn
let fakeGraph: FakeGraphProcess
beforeAll(async () => {
  standIn = await startLoadStandIn()
  fakeGraph = await startFakeGraphProcess({
    webhookUrl: `${standIn.baseUrl}/webhooks/whatsapp`,
    appSecret: standInSecrets.appSecret,
  })
})
afterAll(async () => {
  await fakeGraph?.stop()
  await standIn?.close()
})

describe('message-send with the project fake Graph API', () => {
  it('opens every recipient window through the fake, then sends only inside them', async () => {
    const report = await runLoad({
      baseUrl: standIn.baseUrl,
      env: { ...standInSecrets, fakeGraphUrl: fakeGraph.url },
      scenario: 'message-send',
      maxDurationS: 30,
      runner: 'autocannon',
      scenarios: smallScenarios(),
    })
    expect(report.scenarios).toMatchObject([{ name: 'message-send', status: 'passed' }])
    expect(report.passed).toBe(true)
    // One relayed webhook per recipient, all accepted (signed with the shared app secret).
    expect(standIn.stats.webhooksAccepted).toBe(MESSAGE_SEND_RECIPIENTS)
    expect(standIn.stats.webhooksRefused).toBe(0)
    expect(standIn.stats.messagesOutsideWindow).toBe(0)
    expect(standIn.stats.messagesQueued).toBeGreaterThan(1)
  })
})
