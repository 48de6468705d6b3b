import { Readable } from 'node:stream'
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createAwsClients, destroyAwsClients, maxAttemptsFromEnv } from '../../src/aws/clients.js'
import { describeService } from '../../src/aws/ecs-services.js'
import { CREDENTIALS_HINT, describeAwsError } from '../../src/aws/errors.js'
import { runPreflight } from '../../src/aws/preflight.js'
import { timeoutsFromEnv } from '../../src/aws/runtime.js'
import { waitFor } from '../../src/aws/waiting.js'
import { fakeClock, testContext, testRuntime } from './fixtures.js'

/** An HTTP transport that answers ECS's JSON protocol: throttled first, then the real answer. */
function throttledOnceTransport() {
  const requests: string[] = []
  const reply = (statusCode: number, body: unknown) => ({
    response: {
      statusCode,
      reason: statusCode === 200 ? 'OK' : 'Bad Request',
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: Readable.from([Buffer.from(JSON.stringify(body))]),
    },
  })
  return {
    requests,
    handler: {
      handle: async (request: { headers: Record<string, string> }) => {
        requests.push(request.headers['x-amz-target'] ?? '')
        if (requests.length === 1)
          return reply(400, { __type: 'ThrottlingException', message: 'Rate exceeded' })
        return reply(200, { services: [{ serviceName: 'api', status: 'ACTIVE', taskDefinition: 'td:1' }] })
      },
      updateHttpClientConfig: () => {},
      httpHandlerConfigs: () => ({}),
    },
  }
}

describe('behaviour under faults', () => {
  afterEach(() => vi.unstubAllEnvs())

  it('retries a throttled call through the SDK adaptive retry strategy, then succeeds', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE')
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'example-secret')
    const transport = throttledOnceTransport()
    const clients = createAwsClients({
      region: 'us-east-1',
      maxAttempts: 3,
      requestHandler: transport.handler as never,
    })
    const runtime = { ...testRuntime(), clients }
    try {
      const service = await describeService(runtime, 'cluster', 'api')
      expect(service.taskDefinition).toBe('td:1')
      expect(transport.requests).toEqual([
        'AmazonEC2ContainerServiceV20141113.DescribeServices',
        'AmazonEC2ContainerServiceV20141113.DescribeServices',
      ])
      expect(await clients.ecs.config.retryStrategy()).toMatchObject({ mode: 'adaptive' })
    } finally {
      destroyAwsClients(clients)
    }
  })

  it('keeps polling when a poll is throttled after the SDK gave up', async () => {
    const ecs = mockClient(ECSClient)
    ecs
      .on(DescribeServicesCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ services: [{ serviceName: 'api', status: 'ACTIVE', taskDefinition: 'td:2' }] })
    const runtime = testRuntime()
    const ctx = testContext()
    const value = await waitFor(async () => (await describeService(runtime, 'c', 'api')).taskDefinition, {
      what: 'the service',
      timeoutMs: 60_000,
      pollIntervalMs: 1_000,
      clock: fakeClock(),
      signal: ctx.signal,
      onThrottled: (line) => ctx.log.warn(line),
    })
    expect(value).toBe('td:2')
    expect(ctx.log.lines[0]).toMatch(
      /^WARN throttled while waiting for the service: ThrottlingException: Rate exceeded/,
    )
    ecs.restore()
  })

  it('reads wait bounds from the environment and rejects malformed ones', () => {
    expect(timeoutsFromEnv({ AWS_ROLLOUT_TIMEOUT_MS: '60000', AWS_POLL_INTERVAL_MS: '500' })).toEqual({
      rolloutTimeoutMs: 60_000,
      pollIntervalMs: 500,
    })
    expect(() => timeoutsFromEnv({ AWS_TASK_TIMEOUT_MS: '10m' })).toThrow(
      'AWS_TASK_TIMEOUT_MS must be a positive number of milliseconds (got "10m")',
    )
  })

  it('reads the attempt count from AWS_MAX_ATTEMPTS', () => {
    expect(maxAttemptsFromEnv({ AWS_MAX_ATTEMPTS: '12' })).toBe(12)
    expect(maxAttemptsFromEnv({ AWS_MAX_ATTEMPTS: 'many' })).toBe(8)
  })

  it('turns expired or missing credentials into the login hint, never echoing credential material', async () => {
    const sts = mockClient(STSClient)
    sts.on(GetCallerIdentityCommand).rejects(
      Object.assign(new Error('The security token included in the request is expired'), {
        name: 'ExpiredToken',
      }),
    )
    const error = await runPreflight(testRuntime(), 'staging', undefined, testContext()).catch(
      (caught: Error) => caught,
    )
    expect((error as Error).message).toContain('aws sso login')
    expect((error as Error).message).toContain('AWS_PROFILE')
    expect((error as Error).message).toContain('OIDC')
    const missing = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    })
    expect(describeAwsError(missing)).toBe(CREDENTIALS_HINT)
    sts.restore()
  })

  it('gives up a wait at its timeout and honours an aborted signal', async () => {
    const clock = fakeClock()
    await expect(
      waitFor(async () => undefined, {
        what: 'nothing',
        timeoutMs: 30_000,
        pollIntervalMs: 10_000,
        clock,
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow('timed out after 30 s waiting for nothing')
    const controller = new AbortController()
    controller.abort()
    await expect(
      waitFor(async () => undefined, {
        what: 'nothing',
        timeoutMs: 30_000,
        pollIntervalMs: 10_000,
        clock,
        signal: controller.signal,
      }),
    ).rejects.toThrow('interrupted while waiting for nothing')
  })
})
