// Stack configuration: read and validated in ONE place. Every other module receives the typed
// `StackConfig`; nothing else reads Pulumi config. The same parser serves the Pulumi program, the
// inventory command (mocks) and the cost model, so all three agree on what a stack file means.
import { type Static, type TLiteral, type TUnion, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { connectionBudget, defaultMaxConnections, tasksDuringRollout } from './connection-budget.js'

export const PROJECT = 'whatsapp-saas'

export const EGRESS_MODES = ['nat-per-az', 'single-nat', 'vpc-endpoints', 'public-task-ips'] as const
export type EgressMode = (typeof EGRESS_MODES)[number]

// TypeBox loses the literal types when the union is built from an array; the cast restores them.
const Literals = <T extends string>(values: readonly T[]) =>
  Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<TLiteral<T>[]>

const NetworkSchema = Type.Object({
  availabilityZones: Type.Array(Type.String({ pattern: '^[a-z]{2}-[a-z]+-\\d[a-z]$' }), {
    minItems: 2,
    maxItems: 2,
  }),
  egressMode: Literals(EGRESS_MODES),
})

const DatabaseSchema = Type.Object({
  engineVersion: Type.String({ pattern: '^\\d+(\\.\\d+)?$' }),
  instanceClass: Type.String({ pattern: '^db\\.[a-z0-9]+\\.[a-z0-9]+$' }),
  multiAz: Type.Boolean(),
  allocatedStorageGb: Type.Integer({ minimum: 20, maximum: 65536 }),
  maxAllocatedStorageGb: Type.Integer({ minimum: 20, maximum: 65536 }),
  backupRetentionDays: Type.Integer({ minimum: 1, maximum: 35 }),
  deletionProtection: Type.Boolean(),
  /** max_connections in the parameter group; absent: RDS's default for the class (estimated, see connection-budget.ts). */
  maxConnections: Type.Optional(Type.Integer({ minimum: 20, maximum: 5000 })),
  /** Connections kept for ops tasks (backup, verify-backup with its pg_restore jobs, migrate) at the same time. */
  opsReserveConnections: Type.Integer({ minimum: 0, maximum: 1000 }),
})

const CacheSchema = Type.Object({
  engine: Literals(['redis', 'valkey'] as const),
  engineVersion: Type.String({ pattern: '^\\d+\\.\\d+$' }),
  nodeType: Type.String({ pattern: '^cache\\.[a-z0-9]+\\.[a-z0-9]+$' }),
  nodeCount: Type.Integer({ minimum: 2, maximum: 6 }),
  snapshotRetentionDays: Type.Integer({ minimum: 1, maximum: 35 }),
})

const ServiceSchema = Type.Object({
  architecture: Literals(['X86_64', 'ARM64'] as const),
  cpu: Type.Integer(),
  memoryMiB: Type.Integer(),
  desiredCount: Type.Integer({ minimum: 1 }),
  minCount: Type.Integer({ minimum: 1 }),
  maxCount: Type.Integer({ minimum: 1, maximum: 50 }),
  containerPort: Type.Integer({ minimum: 1024, maximum: 65535 }),
  cpuTargetPercent: Type.Integer({ minimum: 10, maximum: 90 }),
  requestsPerTargetPerMinute: Type.Integer({ minimum: 10 }),
  image: Type.Optional(Type.String({ minLength: 1 })),
  /** PostgreSQL pool size of one API task (`DATABASE_POOL_MAX`). */
  databasePoolMax: Type.Integer({ minimum: 1, maximum: 100 }),
})

const WorkerSchema = Type.Object({
  cpu: Type.Integer(),
  memoryMiB: Type.Integer(),
  desiredCount: Type.Integer({ minimum: 1, maximum: 20 }),
  /** PostgreSQL pool size of one worker task (`DATABASE_POOL_MAX`). */
  databasePoolMax: Type.Integer({ minimum: 1, maximum: 100 }),
})

const GithubSchema = Type.Object({
  repository: Type.String({ pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$' }),
  /** One OIDC provider per AWS account: the second stack in the same account reuses the first one's. */
  createOidcProvider: Type.Boolean(),
  oidcProviderArn: Type.Optional(Type.String({ pattern: '^arn:aws:iam::\\d{12}:oidc-provider/' })),
  /**
   * Extra managed policies for the deploy role, on top of the provisioning policies the program itself
   * creates (provisioning.ts); normally empty.
   */
  provisioningPolicyArns: Type.Array(Type.String({ pattern: '^arn:aws:iam::' })),
  /** The Pulumi state backend CI reads (preview) and writes (up): bucket and its KMS key. */
  state: Type.Object({
    bucket: Type.String({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' }),
    /** Key of the bucket's SSE-KMS and of the stacks' `awskms://` secrets provider. */
    kmsKeyArn: Type.Optional(Type.String({ pattern: '^arn:aws:kms:[a-z0-9-]+:\\d{12}:key/[A-Za-z0-9-]+$' })),
  }),
})

const CostControlsSchema = Type.Object({
  monthlyBudgetUsd: Type.Number({ exclusiveMinimum: 0 }),
  /**
   * Create a SERVICE anomaly monitor. AWS allows one per account and Cost Explorer creates a default one
   * in new accounts, so this is false unless the account has none; otherwise subscribe to it instead.
   */
  anomalyMonitor: Type.Boolean(),
  /** An existing monitor (e.g. Cost Explorer's default) the stack's e-mail subscription follows. */
  anomalyMonitorArn: Type.Optional(
    Type.String({ pattern: '^arn:aws:ce::\\d{12}:anomalymonitor/[A-Za-z0-9-]+$' }),
  ),
  anomalyThresholdUsd: Type.Number({ exclusiveMinimum: 0 }),
})

const AccountSchema = Type.Object({
  /**
   * Create ECS's service-linked role (AWSServiceRoleForECS) before the services. In a fresh account ECS
   * creates it on first use and the first CreateService can fail before it has propagated; in an account
   * that already has it, creating it again fails: set false there.
   */
  createEcsServiceLinkedRole: Type.Boolean(),
})

const BackupSchema = Type.Object({
  retentionDays: Type.Integer({ minimum: 7, maximum: 3650 }),
  scheduleCron: Type.String({ minLength: 1 }),
})

/**
 * Where the service image lives. One repository serves every stack so that production deploys the very
 * digest staging tested: the `owner` stack creates it, the others reference it by name (same account).
 */
const ImageRepositorySchema = Type.Object({
  owner: Type.String({ pattern: '^[a-z0-9-]+$' }),
})

const StackConfigSchema = Type.Object({
  region: Type.String({ pattern: '^[a-z]{2}-[a-z]+-\\d$' }),
  network: NetworkSchema,
  domain: Type.String({ pattern: '^([a-z0-9-]+\\.)+[a-z]{2,}$' }),
  certificateArn: Type.String({ pattern: '^arn:aws:acm:[a-z0-9-]+:\\d{12}:certificate/[A-Za-z0-9-]+$' }),
  alertEmail: Type.String({ pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$' }),
  github: GithubSchema,
  database: DatabaseSchema,
  cache: CacheSchema,
  service: ServiceSchema,
  worker: WorkerSchema,
  costControls: CostControlsSchema,
  account: AccountSchema,
  backup: BackupSchema,
  logRetentionDays: Type.Integer({ minimum: 1 }),
  imageRepository: Type.Optional(ImageRepositorySchema),
  /**
   * Staging only: a fake Graph API as its own internal service, and the synthetic phone number's Graph
   * base URL override allowed for it alone (`SYNTHETIC_GRAPH_API_BASE_URL`), so smoke and load send,
   * receive webhooks and see deliveries without messaging a real person.
   */
  syntheticGraph: Type.Optional(Type.Boolean()),
})

export type StackSettings = Static<typeof StackConfigSchema>
export type DatabaseSettings = StackSettings['database']
export type CacheSettings = StackSettings['cache']
export type ServiceSettings = StackSettings['service']

export interface StackConfig extends StackSettings {
  imageRepository: { owner: string }
  syntheticGraph: boolean
  stack: string
  isProduction: boolean
  /** Prefix of every physical name, e.g. `whatsapp-saas-staging`. */
  namePrefix: string
  /** Tags on every taggable resource; `Environment` is what the policy pack keys production rules on. */
  tags: Record<string, string>
}

/** Top-level keys and the namespace Pulumi stores them under. `region` is the AWS provider's own key. */
const KEY_NAMESPACE: Record<keyof StackSettings, string> = {
  region: 'aws',
  network: PROJECT,
  domain: PROJECT,
  certificateArn: PROJECT,
  alertEmail: PROJECT,
  github: PROJECT,
  database: PROJECT,
  cache: PROJECT,
  service: PROJECT,
  worker: PROJECT,
  costControls: PROJECT,
  account: PROJECT,
  backup: PROJECT,
  logRetentionDays: PROJECT,
  imageRepository: PROJECT,
  syntheticGraph: PROJECT,
}
/** Keys that may be absent: their defaults are applied by parseStackConfig. */
const OPTIONAL_KEYS = new Set<keyof StackSettings>(['imageRepository', 'syntheticGraph'])
const STRING_KEYS = new Set<keyof StackSettings>(['region', 'domain', 'certificateArn', 'alertEmail'])

export class StackConfigError extends Error {
  constructor(
    readonly stackName: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration for stack "${stackName}":\n  - ${problems.join('\n  - ')}`)
    this.name = 'StackConfigError'
  }
}

export const fullKey = (key: keyof StackSettings): string => `${KEY_NAMESPACE[key]}:${key}`

/** Turns a TypeBox error path (`/database/instanceClass`) into the config key an operator sets. */
function keyOfPath(path: string): string {
  const [top, ...rest] = path.split('/').filter(Boolean)
  if (!top) return '(root)'
  const ns = KEY_NAMESPACE[top as keyof StackSettings] ?? PROJECT
  return `${ns}:${top}${rest.length > 0 ? `.${rest.join('.')}` : ''}`
}

// Fargate only accepts these CPU/memory pairs (MiB); a wrong pair fails at deploy time, so catch it here.
const FARGATE_MEMORY_BY_CPU: Record<number, (memory: number) => boolean> = {
  256: (m) => [512, 1024, 2048].includes(m),
  512: (m) => m >= 1024 && m <= 4096 && m % 1024 === 0,
  1024: (m) => m >= 2048 && m <= 8192 && m % 1024 === 0,
  2048: (m) => m >= 4096 && m <= 16384 && m % 1024 === 0,
  4096: (m) => m >= 8192 && m <= 30720 && m % 1024 === 0,
}

function crossFieldProblems(s: StackSettings): string[] {
  const problems: string[] = []
  const svc = s.service
  if (!(svc.minCount <= svc.desiredCount && svc.desiredCount <= svc.maxCount)) {
    problems.push(
      `${PROJECT}:service: need minCount <= desiredCount <= maxCount (got ${svc.minCount}, ${svc.desiredCount}, ${svc.maxCount})`,
    )
  }
  for (const [key, task] of [
    ['service', svc],
    ['worker', s.worker],
  ] as const) {
    const fits = FARGATE_MEMORY_BY_CPU[task.cpu]
    if (!fits) problems.push(`${PROJECT}:${key}.cpu: ${task.cpu} is not a Fargate CPU size (256..4096)`)
    else if (!fits(task.memoryMiB))
      problems.push(`${PROJECT}:${key}.memoryMiB: ${task.memoryMiB} MiB is not valid with cpu ${task.cpu}`)
  }
  for (const az of s.network.availabilityZones) {
    if (!az.startsWith(s.region))
      problems.push(`${PROJECT}:network.availabilityZones: ${az} is not in region ${s.region}`)
  }
  if (new Set(s.network.availabilityZones).size !== s.network.availabilityZones.length) {
    problems.push(`${PROJECT}:network.availabilityZones: zones must differ`)
  }
  if (s.database.maxAllocatedStorageGb < s.database.allocatedStorageGb) {
    problems.push(`${PROJECT}:database.maxAllocatedStorageGb: must be >= allocatedStorageGb`)
  }
  const major = Number(s.cache.engineVersion.split('.')[0])
  if (s.cache.engine === 'valkey' && major < 7)
    problems.push(`${PROJECT}:cache.engineVersion: valkey starts at 7.2`)
  if (s.cache.engine === 'redis' && major > 7)
    problems.push(`${PROJECT}:cache.engineVersion: redis OSS stops at 7.x`)
  problems.push(...connectionBudgetProblems(s))
  if (s.costControls.anomalyMonitor && s.costControls.anomalyMonitorArn)
    problems.push(
      `${PROJECT}:costControls.anomalyMonitorArn: set either anomalyMonitor (create one) or anomalyMonitorArn (use an existing one), not both`,
    )
  if (!s.github.createOidcProvider && !s.github.oidcProviderArn) {
    problems.push(`${PROJECT}:github.oidcProviderArn: required when github.createOidcProvider is false`)
  }
  return problems
}

/** max_connections of the stack and where it comes from, or undefined for a class the table does not know. */
export function stackMaxConnections(s: StackSettings): { value: number; from: string } | undefined {
  if (s.database.maxConnections !== undefined)
    return { value: s.database.maxConnections, from: 'database.maxConnections, parameter group' }
  const value = defaultMaxConnections(s.database.instanceClass)
  return value === undefined ? undefined : { value, from: `RDS default for ${s.database.instanceClass}` }
}

/** The connection budget of the stack's own settings (the policy pack re-checks it on the resources). */
export function stackConnectionBudget(s: StackSettings) {
  const max = stackMaxConnections(s)
  if (!max) return undefined
  return connectionBudget({
    demands: [
      {
        label: 'API',
        tasks: tasksDuringRollout(s.service.maxCount),
        tasksFrom: `service.maxCount ${s.service.maxCount} × rollout surge`,
        pool: s.service.databasePoolMax,
      },
      {
        label: 'worker',
        tasks: tasksDuringRollout(s.worker.desiredCount),
        tasksFrom: `worker.desiredCount ${s.worker.desiredCount} × rollout surge`,
        pool: s.worker.databasePoolMax,
      },
    ],
    opsReserve: s.database.opsReserveConnections,
    maxConnections: max.value,
    maxConnectionsFrom: max.from,
  })
}

function connectionBudgetProblems(s: StackSettings): string[] {
  const budget = stackConnectionBudget(s)
  if (!budget)
    return [
      `${PROJECT}:database.maxConnections: required for ${s.database.instanceClass} (its default max_connections is not in the table)`,
    ]
  return budget.ok
    ? []
    : [
        `${PROJECT}:database connection budget exceeded: ${budget.arithmetic}; lower service.databasePoolMax, worker.databasePoolMax or the task counts, or raise database.maxConnections`,
      ]
}

function stackProblems(stack: string, s: StackSettings): string[] {
  if (stack === 'production' && s.syntheticGraph === true)
    return [`${PROJECT}:syntheticGraph: never in production (it routes a phone number to a fake Graph API)`]
  return []
}

/**
 * Validates raw configuration as Pulumi hands it over: a map of full keys (`aws:region`,
 * `whatsapp-saas:database`) to strings, structured values JSON-encoded.
 */
export function parseStackConfig(
  stack: string,
  raw: Readonly<Record<string, string | undefined>>,
): StackConfig {
  const problems: string[] = []
  const candidate: Record<string, unknown> = {}
  for (const key of Object.keys(KEY_NAMESPACE) as (keyof StackSettings)[]) {
    const text = raw[fullKey(key)]
    if (text === undefined) {
      if (OPTIONAL_KEYS.has(key)) continue
      problems.push(`${fullKey(key)}: missing`)
      continue
    }
    if (STRING_KEYS.has(key)) {
      candidate[key] = text
      continue
    }
    try {
      candidate[key] = JSON.parse(text)
    } catch {
      problems.push(`${fullKey(key)}: not valid structured config (${JSON.stringify(text.slice(0, 40))})`)
    }
  }
  if (problems.length === 0) {
    for (const error of Value.Errors(StackConfigSchema, candidate)) {
      problems.push(`${keyOfPath(error.path)}: ${error.message}`)
    }
  }
  if (problems.length === 0)
    problems.push(
      ...crossFieldProblems(candidate as StackSettings),
      ...stackProblems(stack, candidate as StackSettings),
    )
  if (problems.length > 0) throw new StackConfigError(stack, problems)

  const settings = candidate as StackSettings
  const isProduction = stack === 'production'
  return {
    ...settings,
    imageRepository: settings.imageRepository ?? { owner: stack },
    syntheticGraph: settings.syntheticGraph ?? false,
    stack,
    isProduction,
    namePrefix: `${PROJECT}-${stack}`,
    tags: { Project: PROJECT, Environment: stack, ManagedBy: 'pulumi' },
  }
}

/** Every key the parser reads, for callers that collect raw values from a config source. */
export const CONFIG_KEYS: readonly string[] = (Object.keys(KEY_NAMESPACE) as (keyof StackSettings)[]).map(
  fullKey,
)
