import type { TargetEnv } from '@whatsapp-saas/service-client/target-env'
import { afterEach, describe, expect, it } from 'vitest'
import { runSmoke, type SmokeReport } from '../src/index.js'
import { UNKNOWN_PHONE_NUMBER_ID } from '../src/webhook-payload.js'
import { type StandIn, type StandInFaults, startStandIn } from './stand-in-service.js'

const secrets = {
  apiKey: 'wsk_test_0123456789abcdef',
  appSecret: 'app-secret-for-tests',
  verifyToken: 'verify-token-for-tests',
  phoneNumberId: '123456789012345',
}

let standIn: StandIn | undefined
afterEach(async () => {
  await standIn?.close()
  standIn = undefined
})

async function smokeAgainst(faults: StandInFaults, env: Partial<TargetEnv> = {}, expectVersion = '1.0.0') {
  standIn = await startStandIn(secrets, faults)
  const report = await runSmoke({
    env: { baseUrl: standIn.baseUrl, ...secrets, ...env },
    expectVersion,
    requestTimeoutMs: 2_000,
    deliveryTimeoutMs: 1_000,
    pollIntervalMs: 20,
  })
  return report
}

const statusOf = (report: SmokeReport, name: string) =>
  report.checks.find((check) => check.name === name)?.status

describe('runSmoke against a service that honours the contract', () => {
  it('passes every check', async () => {
    const report = await smokeAgainst({})
    expect(report.checks.map((check) => [check.name, check.status])).toEqual([
      ['health', 'passed'],
      ['liveness', 'passed'],
      ['version', 'passed'],
      ['webhook-handshake', 'passed'],
      ['webhook-signature', 'passed'],
      ['authenticated-read', 'passed'],
      ['message-delivery', 'passed'],
    ])
    expect(report.passed).toBe(true)
    expect(report.summary).toBe('7 passed, 0 failed, 0 skipped')
  })

  it('accepts read as proof of delivery', async () => {
    const report = await smokeAgainst({ deliveredAs: 'read' })
    expect(statusOf(report, 'message-delivery')).toBe('passed')
  })

  it('signs the loopback webhook for the demo phone number; the user of message-delivery writes to it too', async () => {
    await smokeAgainst({})
    // webhook-signature's event, then message-delivery's inbound message posted to the service itself.
    expect(standIn?.webhookPhoneNumberIds).toEqual([secrets.phoneNumberId, secrets.phoneNumberId])
  })

  it('uses a phone number no tenant owns when the demo number is not given', async () => {
    const report = await smokeAgainst({}, { phoneNumberId: undefined })
    expect(statusOf(report, 'webhook-signature')).toBe('passed')
    expect(standIn?.webhookPhoneNumberIds).toEqual([UNKNOWN_PHONE_NUMBER_ID])
  })

  it('never puts a secret in the report', async () => {
    const text = JSON.stringify(await smokeAgainst({ acceptBadSignature: true, healthStatus: 503 }))
    for (const secret of [secrets.apiKey, secrets.appSecret, secrets.verifyToken])
      expect(text).not.toContain(secret)
  })
})

describe('each check fails when the service breaks its part of the contract', () => {
  it.each<[string, StandInFaults]>([
    ['health', { healthBody: { status: 'ok', database: 'connected' } }],
    ['health', { healthBody: { status: 'ok', database: 'connected', redis: 'connected', extra: 'x' } }],
    [
      'health',
      { healthStatus: 503, healthBody: { status: 'error', database: 'disconnected', redis: 'connected' } },
    ],
    ['liveness', { liveStatus: 500 }],
    ['version', { version: '0.9.0' }],
    ['webhook-handshake', { handshakeEcho: (challenge) => `"${challenge}"` }],
    ['webhook-handshake', { wrongTokenStatus: 200 }],
    ['webhook-signature', { acceptBadSignature: true }],
    ['authenticated-read', { readWithoutKeyStatus: 200 }],
    ['message-delivery', { deliveredAs: 'failed' }],
    ['message-delivery', { deliveredAs: 'sent' }],
    ['message-delivery', { dropInbound: true }],
    ['message-delivery', { inboundStatus: 401 }],
  ])('%s fails (%#)', async (name, faults) => {
    const report = await smokeAgainst(faults)
    expect(statusOf(report, name)).toBe('failed')
    expect(report.passed).toBe(false)
    const others = report.checks.filter((check) => check.name !== name)
    expect(others.every((check) => check.status === 'passed')).toBe(true)
  })

  it('fails every HTTP check against a port nobody listens on, naming the call', async () => {
    standIn = await startStandIn(secrets)
    const deadUrl = standIn.baseUrl
    await standIn.close()
    standIn = undefined
    const report = await runSmoke({ env: { baseUrl: deadUrl }, requestTimeoutMs: 1_000 })
    expect(report.passed).toBe(false)
    expect(report.checks[0]).toMatchObject({ name: 'health', status: 'failed' })
    expect(report.checks[0]?.detail).toMatch(/^GET \/health failed: /)
  })
})

describe('checks without their inputs', () => {
  it('are skipped, naming what they need, and do not fail the run', async () => {
    standIn = await startStandIn(secrets)
    const report = await runSmoke({ env: { baseUrl: standIn.baseUrl }, requestTimeoutMs: 2_000 })
    expect(report.passed).toBe(true)
    expect(report.checks.find((check) => check.name === 'version')?.detail).toBe(
      'version 1.0.0 (no expected version given)',
    )
    expect(report.checks.filter((check) => check.status === 'skipped').map((check) => check.detail)).toEqual([
      'not run: needs verifyToken',
      'not run: needs appSecret',
      'not run: needs apiKey',
      'not run: needs appSecret, apiKey, phoneNumberId',
    ])
  })
})

describe('cancellation', () => {
  it('fails every check as not run when the run is cancelled before it starts', async () => {
    standIn = await startStandIn(secrets)
    const report = await runSmoke({
      env: { baseUrl: standIn.baseUrl, ...secrets },
      signal: AbortSignal.abort(),
    })
    expect(report.passed).toBe(false)
    expect(new Set(report.checks.map((check) => `${check.status}: ${check.detail}`))).toEqual(
      new Set(['failed: not run: the smoke run was cancelled']),
    )
  })

  it('stops waiting for delivery when cancelled', async () => {
    standIn = await startStandIn(secrets, { deliveredAs: 'sent' })
    const controller = new AbortController()
    const report = await runSmoke({
      env: { baseUrl: standIn.baseUrl, ...secrets },
      // Far longer than the test may take: only the cancellation can end the wait.
      deliveryTimeoutMs: 600_000,
      pollIntervalMs: 20,
      onCheck: (check) => {
        if (check.name === 'authenticated-read') setTimeout(() => controller.abort(), 200)
      },
      signal: controller.signal,
    })
    expect(report.checks.at(-1)).toMatchObject({
      name: 'message-delivery',
      status: 'failed',
      detail: 'cancelled',
    })
  })
})
