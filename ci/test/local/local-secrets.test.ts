import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as pulumi from '@pulumi/pulumi'
import { describe, expect, it } from 'vitest'
import { containerSecrets } from '../../../infra/src/compute.js'
import type { AppSecrets } from '../../../infra/src/secrets.js'
import {
  CONTAINER_SECRETS,
  loadOrCreateSecrets,
  secretDocuments,
  secretEnvironment,
} from '../../src/local/local-secrets.js'

const unwrap = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve))

describe('local secrets', () => {
  it('reach processes under the names and JSON keys of the ECS container definitions', async () => {
    // Each secret's ARN is its name, so `<arn>:<key>::` reads back as secret and JSON key.
    const fake = (name: string) => ({ arn: pulumi.output(name) }) as never
    const secrets = {
      database: fake('database'),
      redis: fake('redis'),
      adminToken: fake('admin-token'),
      encryptionKey: fake('encryption-key'),
      meta: fake('meta'),
    } as unknown as AppSecrets
    const ecs = await Promise.all(
      containerSecrets(secrets).map(async ({ name, valueFrom }) => {
        const [secret, key] = (await unwrap(valueFrom)).split(':')
        return key ? { name, secret, key } : { name, secret }
      }),
    )
    expect(CONTAINER_SECRETS).toEqual(ecs)
  })

  it('compose DATABASE_URL and REDIS_URL with TLS and passwords, shaped like RDS and ElastiCache', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wa-secrets-'))
    const local = loadOrCreateSecrets(join(dir, 'secrets.json'))
    rmSync(dir, { recursive: true, force: true })
    const env = secretEnvironment(
      secretDocuments(local, { postgresPort: 5555, redisPort: 6666, database: 'whatsapp', caFile: '/ca' }),
    )
    expect(env.DATABASE_URL).toBe(
      `postgresql://postgres:${local.databasePassword}@127.0.0.1:5555/whatsapp?sslmode=require`,
    )
    expect(env.REDIS_URL).toBe(`rediss://default:${local.redisAuthToken}@127.0.0.1:6666`)
    expect(Object.keys(env).sort()).toEqual(CONTAINER_SECRETS.map((e) => e.name).sort())
  })
})
