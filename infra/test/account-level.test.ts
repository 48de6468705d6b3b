// Account-level settings: a stack in an account that already has a SERVICE anomaly monitor (Cost
// Explorer's default) and ECS's service-linked role subscribes to the monitor and creates neither.
import { beforeAll, describe, expect, it } from 'vitest'
import { parseStackConfig, StackConfigError } from '../src/config.js'
import { readStackFile } from '../src/stack-file.js'
import { runStackProgram, type StackRun } from './support/stack-program.js'

const MONITOR = 'arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-4e5f-6789-abcd-ef0123456789'
const overrides = () => {
  const raw = readStackFile('staging')
  const costControls = { ...JSON.parse(raw['whatsapp-saas:costControls']!), anomalyMonitorArn: MONITOR }
  return {
    'whatsapp-saas:costControls': JSON.stringify(costControls),
    'whatsapp-saas:account': JSON.stringify({ createEcsServiceLinkedRole: false }),
  }
}

let run: StackRun
beforeAll(async () => {
  run = await runStackProgram('staging', overrides())
})

describe('an account that already has its monitor and ECS role', () => {
  it('subscribes the alert address to the existing anomaly monitor without creating one', () => {
    expect(run.ofType('aws:costexplorer/anomalyMonitor:AnomalyMonitor')).toEqual([])
    const subscription = run.one('aws:costexplorer/anomalySubscription:AnomalySubscription').inputs
    expect(subscription.monitorArnLists).toEqual([MONITOR])
    expect(subscription.subscribers).toEqual([{ type: 'EMAIL', address: 'alerts-staging@example.com' }])
  })

  it("does not create ECS's service-linked role", () => {
    expect(run.ofType('aws:iam/serviceLinkedRole:ServiceLinkedRole')).toEqual([])
  })

  it('refuses to create a monitor and follow an existing one at once', () => {
    const raw = { ...readStackFile('staging'), ...overrides() }
    raw['whatsapp-saas:costControls'] = JSON.stringify({
      ...JSON.parse(raw['whatsapp-saas:costControls']!),
      anomalyMonitor: true,
    })
    expect(() => parseStackConfig('staging', raw)).toThrow(StackConfigError)
    expect(() => parseStackConfig('staging', raw)).toThrow(
      /set either anomalyMonitor .* or anomalyMonitorArn/,
    )
  })
})
