import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MESSAGE_SEND_RECIPIENTS } from '../k6/scenarios.js'
import { runLoad } from '../src/index.js'
import { smallScenarios } from './small-scenarios.js'
import { type LoadStandIn, standInSecrets, startLoadStandIn } from './stand-in-service.js'

let standIn: LoadStandIn
beforeAll(async () => {
  standIn = await startLoadStandIn()
})
afterAll(async () => {
  await standIn?.close()
})

describe('message-send opens its windows through the service itself', () => {
  it('posts one signed inbound webhook per recipient (as Meta would), then sends only inside the windows', async () => {
    const report = await runLoad({
      baseUrl: standIn.baseUrl,
      env: standInSecrets,
      scenario: 'message-send',
      maxDurationS: 30,
      runner: 'autocannon',
      scenarios: smallScenarios(),
    })
    expect(report.scenarios).toMatchObject([{ name: 'message-send', status: 'passed' }])
    expect(report.passed).toBe(true)
    // No fake Graph API control call: on AWS the runner cannot reach one.
    expect(standIn.stats.webhooksAccepted).toBe(MESSAGE_SEND_RECIPIENTS)
    expect(standIn.stats.webhooksRefused).toBe(0)
    expect([...standIn.stats.webhookPhoneNumberIds]).toEqual([standInSecrets.phoneNumberId])
    expect(standIn.stats.messagesOutsideWindow).toBe(0)
    expect(standIn.stats.messagesQueued).toBeGreaterThan(1)
  })
})
