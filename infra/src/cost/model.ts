// Monthly cost estimate of a stack from its configuration: pure functions, no I/O. Quantities follow
// the program (the same config drives both); usage-dependent quantities come from USAGE, stated once.
import type { StackConfig } from '../config.js'
import { INTERFACE_ENDPOINT_SERVICES } from '../network-layout.js'
import {
  CACHE_NODE_HOURLY,
  FREE_TIERS,
  HOURS_PER_MONTH,
  NOT_PRICED,
  PRICES,
  type Price,
  RDS_POSTGRES_HOURLY,
  RESERVED_DISCOUNT,
  SOURCES,
} from './prices.js'

/** Usage assumptions for lines that depend on traffic, not on configuration. */
export const USAGE = {
  albLcus: 1,
  /** Public addresses of an internet-facing ALB: one per AZ (the count is not documented anywhere). */
  albPublicIpv4: 2,
  natProcessedGb: 20,
  endpointProcessedGb: 20,
  logsIngestedGb: 5,
  kmsRequestsTenThousands: 1,
  /** Size of one compressed daily logical backup. */
  backupSizeGb: 0.5,
  cacheDataGb: 0.1,
  ecrStoredGb: 5,
}

/** Resource counts of the program that the price depends on (kept in step by the tests). */
export const PROGRAM_COUNTS = { kmsKeys: 3, secrets: 5, dashboards: 2, fixedAlarms: 7 }

export type Category =
  | 'database'
  | 'cache'
  | 'compute'
  | 'load-balancer'
  | 'network'
  | 'security'
  | 'monitoring'
  | 'storage'
  | 'cost-controls'

export interface CostItem {
  service: string
  item: string
  quantity: number
  unit: string
  unitPrice: number
  monthly: number
  source: string
  category: Category
  /** Not in the old guide's ~$84 estimate at all. */
  leftOutOfGuide: boolean
}

export interface CostEstimate {
  stack: string
  items: CostItem[]
  total: number
}

export class UnknownPriceError extends Error {}

const round2 = (n: number) => Math.round(n * 100) / 100

function line(
  category: Category,
  service: string,
  item: string,
  quantity: number,
  price: Price,
  leftOutOfGuide = false,
): CostItem {
  return {
    service,
    item,
    quantity: Math.round(quantity * 1000) / 1000,
    unit: price.unit,
    unitPrice: price.usd,
    monthly: round2(quantity * price.usd),
    source: price.source,
    category,
    leftOutOfGuide,
  }
}

export function rdsHourly(instanceClass: string, multiAz: boolean): Price {
  const prices = RDS_POSTGRES_HOURLY[instanceClass]
  if (!prices) {
    throw new UnknownPriceError(
      `no price for ${instanceClass}; priced classes: ${Object.keys(RDS_POSTGRES_HOURLY).join(', ')}`,
    )
  }
  return multiAz ? prices.multiAz : prices.singleAz
}

export function cacheHourly(engine: 'redis' | 'valkey', nodeType: string): Price {
  const price = CACHE_NODE_HOURLY[engine][nodeType]
  if (!price) {
    throw new UnknownPriceError(
      `no ${engine} price for ${nodeType}; priced types: ${Object.keys(CACHE_NODE_HOURLY[engine]).join(', ')}`,
    )
  }
  return price
}

export function alarmCount(config: StackConfig): number {
  return PROGRAM_COUNTS.fixedAlarms + config.cache.nodeCount
}

function fargateItems(
  config: StackConfig,
  label: string,
  count: number,
  cpu: number,
  memoryMiB: number,
): CostItem[] {
  const arm = config.service.architecture === 'ARM64'
  const vcpuHours = count * (cpu / 1024) * HOURS_PER_MONTH
  const gbHours = count * (memoryMiB / 1024) * HOURS_PER_MONTH
  const arch = arm ? 'ARM64' : 'x86_64'
  return [
    line(
      'compute',
      'ECS Fargate',
      `${label}: ${count} × ${cpu / 1024} vCPU (${arch})`,
      vcpuHours,
      arm ? PRICES.fargateArmVcpu : PRICES.fargateX86Vcpu,
    ),
    line(
      'compute',
      'ECS Fargate',
      `${label}: ${count} × ${memoryMiB / 1024} GB memory (${arch})`,
      gbHours,
      arm ? PRICES.fargateArmMemory : PRICES.fargateX86Memory,
    ),
  ]
}

function egressItems(config: StackConfig): CostItem[] {
  const h = HOURS_PER_MONTH
  const azs = config.network.availabilityZones.length
  switch (config.network.egressMode) {
    case 'nat-per-az':
    case 'single-nat': {
      const nats = config.network.egressMode === 'nat-per-az' ? azs : 1
      return [
        line('network', 'VPC', `NAT gateway × ${nats}`, nats * h, PRICES.natHour, true),
        line('network', 'VPC', `NAT gateway public IPv4 × ${nats}`, nats * h, PRICES.publicIpv4Hour, true),
        line(
          'network',
          'VPC',
          `NAT data processed (assumed ${USAGE.natProcessedGb} GB)`,
          USAGE.natProcessedGb,
          PRICES.natData,
          true,
        ),
      ]
    }
    case 'vpc-endpoints': {
      const endpoints = INTERFACE_ENDPOINT_SERVICES.length
      return [
        line(
          'network',
          'VPC',
          `interface endpoints (${INTERFACE_ENDPOINT_SERVICES.join(', ')}) × ${azs} AZs`,
          endpoints * azs * h,
          PRICES.interfaceEndpointHour,
          true,
        ),
        line(
          'network',
          'VPC',
          `endpoint data processed (assumed ${USAGE.endpointProcessedGb} GB)`,
          USAGE.endpointProcessedGb,
          PRICES.interfaceEndpointData,
          true,
        ),
      ]
    }
    case 'public-task-ips': {
      const tasks = config.service.desiredCount + config.worker.desiredCount
      return [
        line(
          'network',
          'VPC',
          `public IPv4 of ${tasks} tasks (no NAT)`,
          tasks * h,
          PRICES.publicIpv4Hour,
          true,
        ),
      ]
    }
  }
}

export function estimate(config: StackConfig): CostEstimate {
  const h = HOURS_PER_MONTH
  const db = config.database
  const cache = config.cache
  const dbClass = `${db.instanceClass} ${db.multiAz ? 'Multi-AZ' : 'Single-AZ'}`
  // Backup storage up to the provisioned size is free; 7 daily snapshots of a small database stay inside it.
  const backupExcessGb = Math.max(0, USAGE.backupSizeGb * db.backupRetentionDays - db.allocatedStorageGb)
  const logsStoredGb = (USAGE.logsIngestedGb * Math.min(config.logRetentionDays, 30)) / 30

  const items: CostItem[] = [
    line('database', 'RDS PostgreSQL', `${dbClass} instance`, h, rdsHourly(db.instanceClass, db.multiAz)),
    line(
      'database',
      'RDS PostgreSQL',
      `${db.allocatedStorageGb} GB gp3${db.multiAz ? ' (Multi-AZ)' : ''}`,
      db.allocatedStorageGb,
      db.multiAz ? PRICES.rdsGp3MultiAz : PRICES.rdsGp3SingleAz,
    ),
    line(
      'database',
      'RDS PostgreSQL',
      `backup storage beyond the free allowance (${db.backupRetentionDays} days)`,
      backupExcessGb,
      PRICES.rdsBackupBeyondFree,
    ),
    line(
      'cache',
      `ElastiCache ${cache.engine}`,
      `${cache.nodeCount} × ${cache.nodeType}`,
      cache.nodeCount * h,
      cacheHourly(cache.engine, cache.nodeType),
    ),
    line(
      'cache',
      `ElastiCache ${cache.engine}`,
      `snapshots (${cache.snapshotRetentionDays} days)`,
      USAGE.cacheDataGb * cache.snapshotRetentionDays,
      PRICES.cacheSnapshot,
    ),
    ...fargateItems(
      config,
      'API tasks',
      config.service.desiredCount,
      config.service.cpu,
      config.service.memoryMiB,
    ),
    ...fargateItems(
      config,
      'worker tasks',
      config.worker.desiredCount,
      config.worker.cpu,
      config.worker.memoryMiB,
    ),
    line('load-balancer', 'ALB', 'load balancer hours', h, PRICES.albHour),
    line(
      'load-balancer',
      'ALB',
      `capacity units (assumed ${USAGE.albLcus} LCU)`,
      USAGE.albLcus * h,
      PRICES.albLcu,
    ),
    line(
      'load-balancer',
      'ALB',
      `public IPv4 × ${USAGE.albPublicIpv4} (one per AZ)`,
      USAGE.albPublicIpv4 * h,
      PRICES.publicIpv4Hour,
      true,
    ),
    ...egressItems(config),
    line(
      'security',
      'KMS',
      `customer-managed keys × ${PROGRAM_COUNTS.kmsKeys}`,
      PROGRAM_COUNTS.kmsKeys,
      PRICES.kmsKey,
      true,
    ),
    line(
      'security',
      'KMS',
      'symmetric requests (assumed 10k)',
      USAGE.kmsRequestsTenThousands,
      PRICES.kmsRequests,
      true,
    ),
    line(
      'security',
      'Secrets Manager',
      `secrets × ${PROGRAM_COUNTS.secrets}`,
      PROGRAM_COUNTS.secrets,
      PRICES.secret,
      true,
    ),
    line(
      'monitoring',
      'CloudWatch',
      `alarms × ${alarmCount(config)}`,
      alarmCount(config),
      PRICES.alarm,
      true,
    ),
    line(
      'monitoring',
      'CloudWatch',
      `dashboards × ${PROGRAM_COUNTS.dashboards} (main, cost)`,
      PROGRAM_COUNTS.dashboards,
      PRICES.dashboard,
      true,
    ),
    line(
      'monitoring',
      'CloudWatch Logs',
      `ingestion (assumed ${USAGE.logsIngestedGb} GB)`,
      USAGE.logsIngestedGb,
      PRICES.logsIngestion,
      true,
    ),
    line(
      'monitoring',
      'CloudWatch Logs',
      `storage (${config.logRetentionDays}-day retention)`,
      logsStoredGb,
      PRICES.logsStorage,
      true,
    ),
    line(
      'storage',
      'S3',
      `backups: ${USAGE.backupSizeGb} GB/day kept ${config.backup.retentionDays} days`,
      USAGE.backupSizeGb * config.backup.retentionDays,
      PRICES.s3Standard,
    ),
    line('storage', 'ECR', `images (assumed ${USAGE.ecrStoredGb} GB)`, USAGE.ecrStoredGb, PRICES.ecrStorage),
    line('cost-controls', 'AWS Budgets', 'monthly budget without actions', 1, PRICES.budgetWithoutActions),
    line(
      'cost-controls',
      'Cost Anomaly Detection',
      'monitor and daily digest',
      config.costControls.anomalyMonitor ? 1 : 0,
      PRICES.anomalyDetection,
    ),
  ]
  return { stack: config.stack, items, total: sumOf(items) }
}

export const sumOf = (items: readonly CostItem[]): number =>
  round2(items.reduce((sum, i) => sum + i.monthly, 0))

/** What the account-wide free tiers take off, if this stack is the only one using them. */
export function freeTierSaving(config: StackConfig): number {
  const alarms = Math.min(alarmCount(config), FREE_TIERS.alarms.quantity) * PRICES.alarm.usd
  const dashboards =
    Math.min(PROGRAM_COUNTS.dashboards, FREE_TIERS.dashboards.quantity) * PRICES.dashboard.usd
  const logs = Math.min(USAGE.logsIngestedGb, FREE_TIERS.logsGb.quantity) * PRICES.logsIngestion.usd
  return round2(alarms + dashboards + logs)
}

export interface SingleAzComparison {
  multiAzMonthly: number
  singleAzMonthly: number
  saving: number
  guideClaimed: number
}

/** Database lines (instance + storage) with Multi-AZ on and off. */
export function singleAzComparison(config: StackConfig): SingleAzComparison {
  const dbTotal = (multiAz: boolean) =>
    sumOf(
      estimate({ ...config, database: { ...config.database, multiAz } }).items.filter(
        (i) => i.category === 'database',
      ),
    )
  const multiAzMonthly = dbTotal(true)
  const singleAzMonthly = dbTotal(false)
  return {
    multiAzMonthly,
    singleAzMonthly,
    saving: round2(multiAzMonthly - singleAzMonthly),
    guideClaimed: 17,
  }
}

export interface ReservedSavings {
  term: string
  rds: number
  cache: number
  total: number
  evidence: string[]
}

export function reservedSavings(result: CostEstimate): ReservedSavings {
  const instanceLine = result.items.find((i) => i.category === 'database' && i.item.endsWith('instance'))
  const nodeLine = result.items.find((i) => i.category === 'cache' && i.unit === 'node-hour')
  const rds = round2((instanceLine?.monthly ?? 0) * RESERVED_DISCOUNT.rds.fraction)
  const cache = round2((nodeLine?.monthly ?? 0) * RESERVED_DISCOUNT.cache.fraction)
  return {
    term: '1-year, no upfront',
    rds,
    cache,
    total: round2(rds + cache),
    evidence: [
      `RDS ${RESERVED_DISCOUNT.rds.fraction * 100} %: ${RESERVED_DISCOUNT.rds.evidence}`,
      `ElastiCache ${RESERVED_DISCOUNT.cache.fraction * 100} %: ${RESERVED_DISCOUNT.cache.evidence}`,
    ],
  }
}

export const leftOutOfGuide = (result: CostEstimate): number =>
  sumOf(result.items.filter((i) => i.leftOutOfGuide))

export { NOT_PRICED, SOURCES }
