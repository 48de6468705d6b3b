import { httpCall } from '@whatsapp-saas/service-client/http-client'
import { isLoopbackUrl, type TargetEnv } from '@whatsapp-saas/service-client/target-env'
import { authenticatedReadCheck } from './checks/authenticated-read.js'
import { healthCheck, livenessCheck } from './checks/health.js'
import { messageDeliveryCheck } from './checks/message-delivery.js'
import { versionCheck } from './checks/version.js'
import { webhookHandshakeCheck, webhookSignatureCheck } from './checks/webhook.js'
import type { CheckStatus, SmokeCheck, SmokeContext } from './smoke-check.js'

/** In the order they run: cheapest and most fundamental first. */
export const SMOKE_CHECKS: readonly SmokeCheck[] = [
  healthCheck,
  livenessCheck,
  versionCheck,
  webhookHandshakeCheck,
  webhookSignatureCheck,
  authenticatedReadCheck,
  messageDeliveryCheck,
]

export interface SmokeOptions {
  env: TargetEnv
  expectVersion?: string
  /** Per HTTP call; default 5000. */
  requestTimeoutMs?: number
  /** Budget for a sent message to be seen delivered; default 20000. */
  deliveryTimeoutMs?: number
  /** Default 250. */
  pollIntervalMs?: number
  /** Cancels the run (e.g. the pipeline stage's signal): the check under way and the rest fail as cancelled. */
  signal?: AbortSignal
  /** Called once per finished check (the CLI prints it live). */
  onCheck?: (result: SmokeCheckResult) => void
}

export interface SmokeCheckResult {
  name: string
  status: CheckStatus
  durationMs: number
  detail: string
}

export interface SmokeReport {
  baseUrl: string
  /** True when no check failed (skipped checks do not fail the run). */
  passed: boolean
  startedAt: string
  durationMs: number
  summary: string
  checks: SmokeCheckResult[]
}

export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  const started = Date.now()
  const baseUrl = options.env.baseUrl.replace(/\/+$/, '')
  const signal = options.signal ?? new AbortController().signal
  const requestTimeoutMs = options.requestTimeoutMs ?? 5_000
  const ctx: SmokeContext = {
    env: { ...options.env, baseUrl },
    expectVersion: options.expectVersion,
    requestTimeoutMs,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? 20_000,
    pollIntervalMs: options.pollIntervalMs ?? 250,
    isLocal: isLoopbackUrl(baseUrl),
    url: (path) => `${baseUrl}${path}`,
    http: (url, request = {}) => httpCall(url, { timeoutMs: requestTimeoutMs, ...request, signal }),
    signal,
  }
  const checks: SmokeCheckResult[] = []
  for (const check of SMOKE_CHECKS) {
    const checkStarted = performance.now()
    const verdict = signal.aborted
      ? { status: 'failed' as const, detail: 'not run: the smoke run was cancelled' }
      : await check.run(ctx).catch((error: unknown) => ({
          status: 'failed' as const,
          detail: signal.aborted ? 'cancelled' : error instanceof Error ? error.message : String(error),
        }))
    const result = { name: check.name, ...verdict, durationMs: Math.round(performance.now() - checkStarted) }
    checks.push(result)
    options.onCheck?.(result)
  }
  const count = (status: CheckStatus) => checks.filter((check) => check.status === status).length
  const failedCount = count('failed')
  return {
    baseUrl,
    passed: failedCount === 0,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    summary: `${count('passed')} passed, ${failedCount} failed, ${count('skipped')} skipped`,
    checks,
  }
}
