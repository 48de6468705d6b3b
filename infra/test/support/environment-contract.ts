// The environment contract between the infrastructure and the service: every container definition the
// program produces (API, worker, the ops tasks started from the API's definition, the scheduled backup)
// is fed, by its `environment` and `secrets` names, to the service's OWN configuration readers
// (api/src/config.ts, api/src/ops/ops-settings.ts, the ops CLI's flag parser). A variable the service
// requires that the definition does not give fails here, and so does a secret given as a plain value.
import { beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../../api/src/config.js'
import { runOpsCli } from '../../../api/src/ops/cli.js'
import { openBackupStore } from '../../../api/src/ops/open-backup-store.js'
import { readOpsSettings } from '../../../api/src/ops/ops-settings.js'
import { API_COMMAND, API_CONTAINER, WORKER_COMMAND } from '../../src/compute.js'
import { runStackProgram, type StackRun } from './stack-program.js'

interface ContainerDefinition {
  name: string
  command: string[]
  environment: { name: string; value: string }[]
  secrets: { name: string; valueFrom: string }[]
}

/** Variables that carry credentials: they must reach the task through `secrets` (Secrets Manager). */
const SECRET_VARIABLES = ['DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'ENCRYPTION_KEY']
const isSecretName = (name: string) =>
  SECRET_VARIABLES.includes(name) || name.startsWith('META_') || /TOKEN|SECRET|PASSWORD/.test(name)

/**
 * Plausible values of the secrets, shaped as Secrets Manager holds them (database.ts, cache.ts,
 * secrets.ts), so the service's validation of each format runs for real.
 */
const SECRET_VALUES: Record<string, string> = {
  DATABASE_URL: 'postgresql://whatsapp_admin:pw@db.example.internal:5432/whatsapp?sslmode=require',
  REDIS_URL: 'rediss://default:token@cache.example.internal:6379',
  ADMIN_TOKEN: 'a'.repeat(48),
  META_APP_SECRET: 'm'.repeat(32),
  META_VERIFY_TOKEN: 'v'.repeat(32),
  ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
}

/** The process environment ECS builds from a container definition. */
function environmentOf(container: ContainerDefinition): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { name, value } of container.environment) env[name] = value
  for (const { name } of container.secrets) {
    const value = SECRET_VALUES[name]
    if (value === undefined) throw new Error(`no plausible value for secret ${name}: add one to this test`)
    env[name] = value
  }
  return env
}

/** Problems of a container definition against the service's configuration schema. */
function serviceProblems(container: ContainerDefinition): string[] {
  const problems = container.environment
    .filter((e) => isSecretName(e.name))
    .map((e) => `${container.name}: ${e.name} is a plain environment value; it must be in "secrets"`)
  try {
    loadConfig(environmentOf(container))
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    problems.push(`${container.name}: ${error.message}`)
  }
  return problems
}

const containersOf = (run: StackRun, family: string): ContainerDefinition[] => {
  const definition = run
    .ofType('aws:ecs/taskDefinition:TaskDefinition')
    .find((d) => d.inputs.family === family)
  if (!definition) throw new Error(`no task definition ${family}`)
  return JSON.parse(String(definition.inputs.containerDefinitions)) as ContainerDefinition[]
}

/** Runs the ops CLI's own flag parser on an ops command line (`--help` stops before any work). */
async function opsCommandProblems(argv: string[], env: Record<string, string>): Promise<string[]> {
  const stdout: string[] = []
  const code = await runOpsCli([...argv, '--help'], env, { stderr: () => {}, stdout: (l) => stdout.push(l) })
  return code === 0 ? [] : [`ops ${argv.join(' ')}: ${String(JSON.parse(stdout.at(-1) ?? '{}').error)}`]
}

export function describeEnvironmentContract(stack: string): void {
  describe(`${stack}: environment contract with the service`, () => {
    const p = `whatsapp-saas-${stack}`
    let run: StackRun
    let api: ContainerDefinition
    let worker: ContainerDefinition
    beforeAll(async () => {
      run = await runStackProgram(stack)
      api = containersOf(run, `${p}-api`).find((c) => c.name === API_CONTAINER)!
      worker = containersOf(run, `${p}-worker`)[0]!
    })

    it('gives the API server everything its configuration requires, secrets as secrets', () => {
      expect(api.command).toEqual(API_COMMAND)
      expect(serviceProblems(api)).toEqual([])
    })

    it('gives the worker everything its configuration requires, secrets as secrets', () => {
      expect(worker.command).toEqual(WORKER_COMMAND)
      expect(serviceProblems(worker)).toEqual([])
    })

    it('sets DATABASE_POOL_MAX as a plain value the service accepts (an integer of at least 2)', () => {
      for (const container of [api, worker]) {
        const pool = container.environment.filter((e) => e.name === 'DATABASE_POOL_MAX')
        expect(pool, container.name).toHaveLength(1)
        expect(pool[0]!.value).toMatch(/^\d+$/)
        expect(Number(pool[0]!.value)).toBeGreaterThanOrEqual(2)
        expect(container.secrets.map((s) => s.name)).not.toContain('DATABASE_POOL_MAX')
      }
    })

    it('gives the ops tasks (the API definition with an ops command) a database and an S3 backup store', async () => {
      const env = environmentOf(api)
      const settings = readOpsSettings(env)
      expect(settings.databaseUrl).toBe(SECRET_VALUES.DATABASE_URL)
      expect(settings.backupStore).toMatch(new RegExp(`^s3://${p}-backups-\\d{12}/backups$`))
      expect(settings.awsRegion).toBe('us-east-1')
      expect(settings.backupKmsKeyId).toMatch(/^arn:aws:kms:/)
      // The store the commands open from these settings (no network: the client is only constructed).
      const store = openBackupStore({
        url: settings.backupStore!,
        kmsKeyId: settings.backupKmsKeyId,
        region: settings.awsRegion,
      })
      expect(store.location).toBe(settings.backupStore)
      for (const command of [['backup'], ['verify-backup', '--backup', 'latest'], ['migration-status']])
        expect(await opsCommandProblems(command, env)).toEqual([])
    })

    it('starts the scheduled backup with a command line the ops CLI accepts, in the API container', async () => {
      const schedule = run.one('aws:scheduler/schedule:Schedule').inputs as { target: { input: string } }
      const { containerOverrides } = JSON.parse(schedule.target.input) as {
        containerOverrides: { name: string; command: string[] }[]
      }
      expect(containerOverrides).toHaveLength(1)
      const [override] = containerOverrides
      expect(override!.name).toBe(api.name)
      expect(override!.command.slice(0, 2)).toEqual(['node', 'dist/ops/main.js'])
      expect(await opsCommandProblems(override!.command.slice(2), environmentOf(api))).toEqual([])
    })
  })
}

export function describeContractCheck(): void {
  describe('the contract check itself', () => {
    const container = (change: (c: ContainerDefinition) => void): ContainerDefinition => {
      const c: ContainerDefinition = {
        name: 'api',
        command: API_COMMAND,
        environment: [{ name: 'NODE_ENV', value: 'production' }],
        secrets: Object.keys(SECRET_VALUES).map((name) => ({
          name,
          valueFrom: `arn:aws:secretsmanager:x:${name}`,
        })),
      }
      change(c)
      return c
    }

    it('fails when a variable the service requires is missing', () => {
      const problems = serviceProblems(
        container((c) => {
          c.secrets = c.secrets.filter((s) => s.name !== 'REDIS_URL')
        }),
      )
      expect(problems).toEqual(['api: REDIS_URL is required'])
    })

    it('fails when a secret is given as a plain environment value', () => {
      for (const name of ['DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'META_APP_SECRET', 'ENCRYPTION_KEY']) {
        const problems = serviceProblems(
          container((c) => {
            c.secrets = c.secrets.filter((s) => s.name !== name)
            c.environment.push({ name, value: SECRET_VALUES[name]! })
          }),
        )
        expect(problems).toEqual([`api: ${name} is a plain environment value; it must be in "secrets"`])
      }
    })

    it('fails when a value does not have the format the service validates', () => {
      const problems = serviceProblems(
        container((c) => {
          c.environment.push({ name: 'PORT', value: 'http' })
        }),
      )
      expect(problems).toEqual(['api: PORT must be an integer between 0 and 65535'])
    })

    it('fails on an ops command line the CLI does not know', async () => {
      expect(await opsCommandProblems(['backup', '--no-such-flag'], {})).toEqual([
        expect.stringContaining("ops backup --no-such-flag: Unknown option '--no-such-flag'"),
      ])
    })
  })
}
