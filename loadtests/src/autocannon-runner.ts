import { createHmac } from 'node:crypto'
import type { TargetEnv } from '@whatsapp-saas/service-client/target-env'
import autocannon from 'autocannon'
import {
  inboundWebhookBody,
  loadRecipient,
  loadSender,
  READ_PATHS,
  textMessageBody,
  webhookPhoneNumberId,
} from '../k6/payloads.js'
import { MESSAGE_SEND_RECIPIENTS, type Scenario, WEBHOOK_SENDERS } from '../k6/scenarios.js'
import { type ObservedMetrics, observedMetrics } from './thresholds.js'

/** The request each scenario sends, rebuilt per request as the k6 script does in its default function. */
function requestFor(scenario: Scenario, env: TargetEnv): autocannon.Request {
  let iteration = 0
  switch (scenario.name) {
    case 'webhook-ingest': {
      const phoneNumberId = webhookPhoneNumberId(env)
      const runId = Date.now().toString(36)
      return {
        method: 'POST',
        path: '/webhooks/whatsapp',
        setupRequest: (request) => {
          const n = iteration++
          const body = inboundWebhookBody({
            phoneNumberId,
            from: loadSender(n % WEBHOOK_SENDERS),
            wamid: `wamid.load${runId}x${n}`,
            text: `load ${n}`,
          })
          const signature = createHmac('sha256', env.appSecret!).update(body).digest('hex')
          return {
            ...request,
            body,
            headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${signature}` },
          }
        },
      }
    }
    case 'message-send':
      return {
        method: 'POST',
        path: '/api/v1/messages',
        setupRequest: (request) => {
          const n = iteration++
          return {
            ...request,
            body: textMessageBody(
              env.phoneNumberId!,
              loadRecipient(n % MESSAGE_SEND_RECIPIENTS),
              `load ${n}`,
            ),
            headers: { 'content-type': 'application/json', authorization: `Bearer ${env.apiKey!}` },
          }
        },
      }
    case 'read-api':
      return {
        method: 'GET',
        path: READ_PATHS[0],
        setupRequest: (request) => ({
          ...request,
          path: READ_PATHS[iteration++ % READ_PATHS.length],
          headers: { authorization: `Bearer ${env.apiKey!}` },
        }),
      }
  }
}

/**
 * How many connections autocannon opens for a scenario. autocannon releases each second's share of
 * overallRate as a burst over its open connections, so that all of them have a request in flight at
 * once; k6's constant-arrival-rate spaces the arrivals evenly, and has about rate × answer time in
 * flight. One connection per 10 requests a second (at least 2, at most k6's pre-allocated VUs) keeps
 * the burst small, and still sustains the rate while answers take up to ~100 ms. With k6's 20 VUs,
 * the 100 reads of a second arrived 20 at a time, and their p95 measured that queue: 140–207 ms on a
 * two-core host against the 200 ms threshold.
 */
export function autocannonConnections(scenario: Pick<Scenario, 'ratePerSecond' | 'vus'>): number {
  return Math.min(scenario.vus, Math.max(2, Math.ceil(scenario.ratePerSecond / 10)))
}

/**
 * Runs one scenario with autocannon at the scenario's rate, connections and duration, bounded by a request cap
 * and by `signal`. Latency is recorded per response so p95 is exact (see `percentile`).
 */
export async function runScenarioWithAutocannon(
  scenario: Scenario,
  env: TargetEnv,
  durationS: number,
  signal: AbortSignal,
): Promise<ObservedMetrics> {
  const latenciesMs: number[] = []
  // What the errors were, e.g. { '500': 12, '429': 3, 'timeout': 2 }, to say why a run failed.
  const errorKinds: Record<string, number> = {}
  const countError = (kind: string) => {
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1
  }
  let unexpectedStatus = 0
  let requestErrors = 0
  const signalHandlers: (() => void)[] = []
  try {
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: env.baseUrl,
          connections: autocannonConnections(scenario),
          overallRate: scenario.ratePerSecond,
          duration: durationS,
          // A hard cap on top of the duration: the rate over the duration, plus the connections' first requests.
          maxOverallRequests: Math.ceil(scenario.ratePerSecond * durationS * 1.1) + scenario.vus,
          timeout: scenario.requestTimeoutS,
          requests: [requestFor(scenario, env)],
        },
        (error, finished) => (error ? reject(error) : resolve(finished)),
      )
      instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
        latenciesMs.push(responseTimeMs)
        if (statusCode !== scenario.expectedStatus) {
          unexpectedStatus++
          countError(String(statusCode))
        }
      })
      instance.on('reqError', (error: { code?: string; message?: string }) => {
        requestErrors++
        countError(/timed out|timeout/i.test(error?.message ?? '') ? 'timeout' : (error?.code ?? 'error'))
      })
      const stop = () => instance.stop()
      signalHandlers.push(stop)
      if (signal.aborted) stop()
      else signal.addEventListener('abort', stop, { once: true })
    })
    return {
      ...observedMetrics({
        latenciesMs,
        requests: latenciesMs.length + requestErrors,
        errors: unexpectedStatus + requestErrors,
        elapsedS: result.duration,
      }),
      errorKinds,
    }
  } finally {
    for (const stop of signalHandlers) signal.removeEventListener('abort', stop)
  }
}
