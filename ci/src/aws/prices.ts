// us-east-1 on-demand list prices (USD) used by `costs --recommend` to put a monthly figure on each
// right-sizing step. Taken from /work/shared/AWS-PRICES.md (compiled 2026 from the AWS Price List via
// Infracost goldens and Price List API captures); check aws.amazon.com before quoting them.

export const HOURS_PER_MONTH = 730

export interface HourlyPrice {
  usdPerHour: number
  source: string
}

/** RDS for PostgreSQL instance-hours by class, Single-AZ and Multi-AZ. */
export const RDS_POSTGRES: Record<string, { singleAz: HourlyPrice; multiAz: HourlyPrice }> = {
  'db.t3.micro': {
    singleAz: { usdPerHour: 0.018, source: 'AWS Price List SKU TGN7QDJF2AGFU9XA (2026-03)' },
    multiAz: { usdPerHour: 0.036, source: '2 × Single-AZ (Price List API capture 2026-03)' },
  },
  'db.t3.small': {
    singleAz: { usdPerHour: 0.036, source: 'derived: half the Multi-AZ rate' },
    multiAz: { usdPerHour: 0.072, source: 'AWS Price List SKU KFZ3UNZPS5C5EB5P' },
  },
  'db.t4g.micro': {
    singleAz: { usdPerHour: 0.016, source: 'infratally.com RDS pricing 2026' },
    multiAz: { usdPerHour: 0.032, source: 'infratally.com RDS pricing 2026' },
  },
  'db.t4g.small': {
    singleAz: { usdPerHour: 0.032, source: 'Infracost db_instance_test golden (2026-05)' },
    multiAz: { usdPerHour: 0.064, source: 'infratally.com RDS pricing 2026' },
  },
}

/** ElastiCache node-hours by node type and engine. */
export const ELASTICACHE: Record<string, { redis: HourlyPrice; valkey: HourlyPrice }> = {
  'cache.t3.micro': {
    redis: { usdPerHour: 0.017, source: 'AWS Price List, AmazonElastiCache NodeUsage (read 2026-10-02)' },
    valkey: { usdPerHour: 0.0136, source: 'AWS Price List, AmazonElastiCache NodeUsage (read 2026-10-02)' },
  },
  'cache.t4g.micro': {
    redis: { usdPerHour: 0.016, source: 'AWS Price List, AmazonElastiCache NodeUsage (read 2026-10-02)' },
    valkey: { usdPerHour: 0.0128, source: 'AWS Price List, AmazonElastiCache NodeUsage (read 2026-10-02)' },
  },
}

/** Fargate Linux per vCPU-hour and per GB-hour. */
export const FARGATE: Record<'X86_64' | 'ARM64', { vcpu: HourlyPrice; memoryGb: HourlyPrice }> = {
  X86_64: {
    vcpu: { usdPerHour: 0.04048, source: 'Infracost ecs_service_test golden (2025-07)' },
    memoryGb: { usdPerHour: 0.004445, source: 'Infracost ecs_service_test golden (2025-07)' },
  },
  ARM64: {
    vcpu: { usdPerHour: 0.03238, source: 'AWS pricing data fetched 2026-09-23' },
    memoryGb: { usdPerHour: 0.00356, source: 'AWS pricing data fetched 2026-09-23' },
  },
}

/** Smaller classes in the same family, largest first, for right-sizing. */
export const RDS_SMALLER: Record<string, string> = {
  'db.t3.small': 'db.t3.micro',
  'db.t4g.small': 'db.t4g.micro',
}

export const ELASTICACHE_SMALLER: Record<string, string> = {
  'cache.t3.small': 'cache.t3.micro',
  'cache.t4g.small': 'cache.t4g.micro',
}

export function monthly(usdPerHour: number, units = 1): number {
  return Math.round(usdPerHour * units * HOURS_PER_MONTH * 100) / 100
}
