import { describe, expect, it } from 'vitest'
import { fakeGraphOptionsFromEnv } from '../../src/fake-graph/env-options.js'

describe('fake Graph API options from its environment', () => {
  it('enforces the 24-hour window unless a deployed fake turns it off', () => {
    // Unset: the fake's own default (on) applies.
    expect(fakeGraphOptionsFromEnv({}).enforceServiceWindow).toBeUndefined()
    expect(
      fakeGraphOptionsFromEnv({ FAKE_GRAPH_ENFORCE_SERVICE_WINDOW: 'true' }).enforceServiceWindow,
    ).toBeUndefined()
    expect(fakeGraphOptionsFromEnv({ FAKE_GRAPH_ENFORCE_SERVICE_WINDOW: 'false' }).enforceServiceWindow).toBe(
      false,
    )
  })

  it('reads port, host and limits', () => {
    const options = fakeGraphOptionsFromEnv({
      FAKE_GRAPH_PORT: '4100',
      FAKE_GRAPH_HOST: '0.0.0.0',
      FAKE_GRAPH_THROUGHPUT_MPS: '80',
    })
    expect(options).toMatchObject({ port: 4100, host: '0.0.0.0', limits: { throughputMps: 80 } })
  })
})
