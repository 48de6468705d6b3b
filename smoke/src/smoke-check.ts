import type { HttpRequest, HttpResponse } from '@whatsapp-saas/service-client/http-client'
import type { TargetEnv } from '@whatsapp-saas/service-client/target-env'

export type CheckStatus = 'passed' | 'failed' | 'skipped'

export interface CheckVerdict {
  status: CheckStatus
  /** One line saying what was observed; never contains a secret. */
  detail: string
}

export interface SmokeContext {
  env: TargetEnv
  /** The deployed artifact's version `/api/v1/status` must report, when known. */
  expectVersion?: string
  /** Budget for each HTTP call. */
  requestTimeoutMs: number
  /** How long a sent message may take to be seen delivered. */
  deliveryTimeoutMs: number
  pollIntervalMs: number
  /** Loopback targets may receive tenant data (an inbound message on the demo number); others never do. */
  isLocal: boolean
  url(path: string): string
  /** An HTTP call with the run's cancellation and (unless given) its per-call timeout applied. */
  http(
    url: string,
    request?: Omit<HttpRequest, 'timeoutMs' | 'signal'> & { timeoutMs?: number },
  ): Promise<HttpResponse>
  /** Cancels the run: stops waits and HTTP calls. */
  signal: AbortSignal
}

export interface SmokeCheck {
  name: string
  run(ctx: SmokeContext): Promise<CheckVerdict>
}

export const passed = (detail: string): CheckVerdict => ({ status: 'passed', detail })
export const failed = (detail: string): CheckVerdict => ({ status: 'failed', detail })
export const skipped = (detail: string): CheckVerdict => ({ status: 'skipped', detail })

/** The inputs a check needs that the environment lacks, as a skip verdict; undefined when all are there. */
export function missingInputs(env: TargetEnv, keys: (keyof TargetEnv)[]): CheckVerdict | undefined {
  const missing = keys.filter((key) => !env[key])
  return missing.length > 0 ? skipped(`not run: needs ${missing.join(', ')}`) : undefined
}
