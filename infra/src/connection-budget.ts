// The database connection budget: every pool of every task that can run at once, plus what the ops
// tasks need, must fit in 90 % of PostgreSQL's max_connections. Shared by the config validation (which
// fails a preview before any resource is planned) and the policy pack (which re-derives the numbers from
// the resources themselves). No Pulumi imports: the policy pack loads this file too.

/** Tag of the RDS parameter group carrying the connections reserved for ops tasks. */
export const OPS_RESERVE_TAG = 'OpsReserveConnections'
/** The service's pool size variable (api/src/config.ts). */
export const POOL_SIZE_VARIABLE = 'DATABASE_POOL_MAX'

/** Share of max_connections the pools may use; the rest is headroom for RDS's own and operators' sessions. */
export const CONNECTION_BUDGET_SHARE = 0.9

/**
 * ECS starts up to this share of the desired count during a rolling deployment (compute.ts
 * `deploymentMaximumPercent`): old and new tasks hold their pools at the same time, so the peak of a
 * rollout at full scale is max tasks × 2.
 */
export const DEPLOYMENT_MAXIMUM_PERCENT = 200

/** RDS for PostgreSQL's default: max_connections = LEAST({DBInstanceClassMemory/9531392}, 5000). */
const BYTES_PER_CONNECTION = 9_531_392
const MAX_DEFAULT_CONNECTIONS = 5000
/**
 * DBInstanceClassMemory is the class's memory minus what the OS and RDS's own processes reserve, which
 * AWS does not publish per class. 75 % of the nominal memory stays below the defaults observed on the
 * small classes (a db.t3.small reports about 190): the estimate errs towards fewer connections.
 */
export const INSTANCE_MEMORY_SHARE = 0.75

const GIB = 1024 ** 3
const SIZES_GIB: Record<string, number> = {
  micro: 1,
  small: 2,
  medium: 4,
  large: 8,
  xlarge: 16,
  '2xlarge': 32,
  '4xlarge': 64,
  '8xlarge': 128,
}
/** Memory per size for the burstable (t) and general-purpose (m) classes; memory-optimized (r) doubles it. */
const FAMILY_MEMORY_FACTOR: Record<string, number> = {
  t3: 1,
  t4g: 1,
  m5: 1,
  m6g: 1,
  m6i: 1,
  m7g: 1,
  r5: 2,
  r6g: 2,
  r6i: 2,
  r7g: 2,
}

/** Nominal memory of a `db.<family>.<size>` class in GiB, or undefined when the class is not in the table. */
export function instanceMemoryGib(instanceClass: string): number | undefined {
  const [, family, size] = instanceClass.split('.')
  const factor = FAMILY_MEMORY_FACTOR[family ?? '']
  const base = SIZES_GIB[size ?? '']
  if (factor === undefined || base === undefined) return undefined
  // t-classes stop at 2xlarge, m-classes start at large: the table covers what RDS sells of each.
  return base * factor
}

/** Estimated default max_connections of a class (the RDS formula), or undefined for an unknown class. */
export function defaultMaxConnections(instanceClass: string): number | undefined {
  const gib = instanceMemoryGib(instanceClass)
  if (gib === undefined) return undefined
  return Math.min(
    Math.floor((gib * GIB * INSTANCE_MEMORY_SHARE) / BYTES_PER_CONNECTION),
    MAX_DEFAULT_CONNECTIONS,
  )
}

export interface PoolDemand {
  /** What holds the pools, e.g. `API` or the service's name. */
  label: string
  /** Tasks that can run at once (including a rollout's surge). */
  tasks: number
  /** How the task count was derived, e.g. `maxCount 10 × 200 %`. */
  tasksFrom: string
  pool: number
}

export interface ConnectionBudget {
  demands: PoolDemand[]
  opsReserve: number
  maxConnections: number
  /** Where max_connections comes from: the parameter group or the class's default formula. */
  maxConnectionsFrom: string
  used: number
  limit: number
  ok: boolean
  /** The whole sum, for error messages and reports. */
  arithmetic: string
}

export const tasksDuringRollout = (count: number): number =>
  Math.ceil((count * DEPLOYMENT_MAXIMUM_PERCENT) / 100)

export function connectionBudget(args: {
  demands: PoolDemand[]
  opsReserve: number
  maxConnections: number
  maxConnectionsFrom: string
}): ConnectionBudget {
  const used = args.demands.reduce((sum, d) => sum + d.tasks * d.pool, 0) + args.opsReserve
  const limit = Math.floor(args.maxConnections * CONNECTION_BUDGET_SHARE)
  const terms = args.demands.map(
    (d) => `${d.label} ${d.tasks} tasks (${d.tasksFrom}) × pool ${d.pool} = ${d.tasks * d.pool}`,
  )
  const ok = used <= limit
  const arithmetic =
    `${[...terms, `ops reserve ${args.opsReserve}`].join(' + ')} = ${used} ${ok ? '<=' : '>'} ` +
    `${CONNECTION_BUDGET_SHARE * 100} % of max_connections ${args.maxConnections} (${args.maxConnectionsFrom}) = ${limit}`
  return { ...args, used, limit, ok, arithmetic }
}
