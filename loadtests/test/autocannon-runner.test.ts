import { afterEach, describe, expect, it } from 'vitest'
import { runLoad } from '../src/index.js'
import { smallScenarios } from './small-scenarios.js'
import {
  type LoadStandIn,
  type StandInBehaviour,
  standInSecrets,
  startLoadStandIn,
} from './stand-in-service.js'

let standIn: LoadStandIn | undefined
afterEach(async () => {
  await standIn?.close()
  standIn = undefined
})

async function loadAgainst(
  behaviour: StandInBehaviour,
  scenario?: 'read-api' | 'webhook-ingest',
  thresholds: Parameters<typeof smallScenarios>[0] = {},
) {
  standIn = await startLoadStandIn(behaviour)
  return runLoad({
    baseUrl: standIn.baseUrl,
    env: standInSecrets,
    scenario,
    maxDurationS: 60,
    path: '',
    scenarios: smallScenarios(thresholds),
  })
}

describe('runLoad with autocannon (no k6 on PATH)', () => {
  it('passes every scenario against a fast service, saying why autocannon ran', async () => {
    const report = await loadAgainst({})
    expect(report.runner).toBe('autocannon')
    expect(report.notes[0]).toMatch(
      /^k6 not found on PATH, so autocannon ran the same scenarios and thresholds \(to use k6, install k6: https:/,
    )
    expect(report.scenarios.map((scenario) => [scenario.name, scenario.status])).toEqual([
      ['message-send', 'passed'],
      ['read-api', 'passed'],
      ['webhook-ingest', 'passed'],
    ])
    expect(report.passed).toBe(true)
    expect(report.exitCode).toBe(0)
    expect(Object.keys(report.thresholds)).toHaveLength(9)
    expect(Object.values(report.thresholds).every((verdict) => verdict.ok)).toBe(true)

    const stats = standIn!.stats
    // Every webhook body was signed correctly and named the demo number (a fake Graph API is wired).
    expect(stats.webhooksAccepted).toBeGreaterThan(0)
    expect(stats.webhooksRefused).toBe(0)
    expect([...stats.webhookPhoneNumberIds]).toEqual([standInSecrets.phoneNumberId])
    // Sends went only to users who messaged in first; reads alternated between both paths, all with the key.
    expect(stats.messagesQueued).toBeGreaterThan(0)
    expect(stats.messagesOutsideWindow).toBe(0)
    expect(Object.keys(stats.reads).sort()).toEqual(['/api/v1/messages?limit=20', '/api/v1/organization'])
    expect(stats.unauthorised).toBe(0)
    // Between scenarios the runner read the queue depths with the admin token (they are not public).
    expect(stats.adminStatusReads).toBeGreaterThan(0)
  })

  it('fails with exit code 99 when the service is too slow for the p95 threshold', async () => {
    const report = await loadAgainst({ delayMs: 600 }, 'read-api', { p95Ms: 300 })
    expect(report.passed).toBe(false)
    expect(report.exitCode).toBe(99)
    expect(report.thresholds['read-api http_req_duration p(95) ms']?.ok).toBe(false)
    expect(report.thresholds['read-api http_req_duration p(95) ms']?.value).toBeGreaterThanOrEqual(600)
    expect(report.scenarios[0]?.detail).toMatch(
      /^threshold breached: read-api http_req_duration p\(95\) ms = /,
    )
  })

  it('fails with exit code 99 when the service answers errors', async () => {
    const report = await loadAgainst({ failEvery: 5 }, 'webhook-ingest')
    expect(report.passed).toBe(false)
    expect(report.exitCode).toBe(99)
    expect(report.thresholds['webhook-ingest http_req_failed rate']).toMatchObject({ ok: false })
    expect(report.thresholds['webhook-ingest http_req_failed rate']?.value).toBeGreaterThanOrEqual(0.15)
    expect(report.scenarios[0]?.detail).toMatch(/\(errors: 500 ×\d+\)$/)
  })

  it('stops at the first failing scenario', async () => {
    const report = await loadAgainst({ failEvery: 2 })
    expect(
      report.scenarios.map((scenario) => [scenario.name, scenario.status, scenario.detail.slice(0, 30)]),
    ).toEqual([
      ['message-send', 'failed', 'threshold breached: message-se'],
      ['read-api', 'skipped', 'not run: message-send failed'],
      ['webhook-ingest', 'skipped', 'not run: message-send failed'],
    ])
  })

  it('skips scenarios whose inputs are missing, and fails when none could run', async () => {
    standIn = await startLoadStandIn()
    const report = await runLoad({
      baseUrl: standIn.baseUrl,
      maxDurationS: 30,
      path: '',
      scenarios: smallScenarios(),
    })
    expect(report.scenarios.map((scenario) => scenario.detail)).toEqual([
      'not run: needs apiKey, phoneNumberId, appSecret',
      'not run: needs apiKey',
      'not run: needs appSecret',
    ])
    expect(report.passed).toBe(false)
    expect(report.exitCode).toBe(1)
    expect(report.notes).toContain('no scenario could run: give the inputs the scenarios need')
  })

  it('fails message-send when the 24-hour windows never open', async () => {
    standIn = await startLoadStandIn({ dropInbound: true })
    const report = await runLoad({
      baseUrl: standIn.baseUrl,
      env: standInSecrets,
      scenario: 'message-send',
      maxDurationS: 3,
      path: '',
      scenarios: smallScenarios(),
    })
    expect(report.passed).toBe(false)
    expect(report.exitCode).toBe(108)
    expect(report.scenarios[0]?.detail).toMatch(/^setup failed: 24-hour windows still closed/)
  })

  it('refuses a URL off this machine unless allowed', async () => {
    await expect(runLoad({ baseUrl: 'https://staging.example.com', maxDurationS: 10 })).rejects.toThrow(
      'refusing to load https://staging.example.com: not a loopback address (pass allowRemote / --allow-remote)',
    )
  })
})

describe('errors that are not answers', () => {
  it('counts requests that time out as errors, named as timeouts', async () => {
    standIn = await startLoadStandIn({ delayMs: 2_500 })
    const scenarios = smallScenarios()
    const report = await runLoad({
      baseUrl: standIn.baseUrl,
      env: standInSecrets,
      scenario: 'read-api',
      maxDurationS: 30,
      path: '',
      // A request timeout shorter than the stand-in's answers, and a run longer than both.
      scenarios: { ...scenarios, 'read-api': { ...scenarios['read-api'], durationS: 4, requestTimeoutS: 1 } },
    })
    expect(report.exitCode).toBe(99)
    expect(report.thresholds['read-api http_req_failed rate']?.ok).toBe(false)
    expect(report.scenarios[0]?.detail).toMatch(/\(errors: timeout ×\d+\)$/)
  })
})
