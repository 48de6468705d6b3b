// The ONE price table of the cost model (and of the pipeline's `costs --recommend`): AWS on-demand list
// prices, us-east-1, USD. Every figure carries the source it was read from; docs/aws-prices.md holds the
// sources (the keys of SOURCES) and, per price, the line it was read from. A month is 730 hours.

export const HOURS_PER_MONTH = 730
export const PRICE_REGION = 'us-east-1'
/** When the table was compiled; the underlying reads are dated in SOURCES. */
export const PRICE_TABLE_DATE = '2026-11-25'

export const SOURCES = {
  IC: 'Infracost Cloud Pricing API golden outputs (mirror of the AWS Price List), regenerated 2024-07..2026-05',
  MCP: 'AWS Price List API responses captured 2026-03-22 (RDS offer 2026-03-18, S3 offer 2026-02-23)',
  SKU072: 'AWS Price List SKU KFZ3UNZPS5C5EB5P: db.t3.small Multi-AZ PostgreSQL, ~2026',
  PLPY: 'AWS Price List API, AmazonElastiCache NodeUsage, read 2026-10-02',
  HOST: 'AWS pricing data fetched 2026-09-23',
  TALLY: 'infratally.com RDS pricing 2026 (third-party)',
  CWP: 'aws.amazon.com/cloudwatch/pricing free-tier table (undated)',
  HFB: 'AWS Price List AWSBudgets, effective 2020-10-01',
  CAD: 'Cost Anomaly Detection: no fee (third-party pages, May 2026)',
  DERIVED: 'derived: half the Multi-AZ rate (SKU072), equal to a quarter of PostgreSQL db.t3.large (IC)',
} as const
export type SourceKey = keyof typeof SOURCES

export interface Price {
  usd: number
  unit: string
  source: SourceKey
}

const p = (usd: number, unit: string, source: SourceKey): Price => ({ usd, unit, source })

/** RDS for PostgreSQL per instance-hour, Single-AZ and Multi-AZ as each was found. */
export const RDS_POSTGRES_HOURLY: Record<string, { singleAz: Price; multiAz: Price }> = {
  'db.t3.micro': { singleAz: p(0.018, 'instance-hour', 'MCP'), multiAz: p(0.036, 'instance-hour', 'MCP') },
  'db.t3.small': {
    singleAz: p(0.036, 'instance-hour', 'DERIVED'),
    multiAz: p(0.072, 'instance-hour', 'SKU072'),
  },
  'db.t4g.micro': {
    singleAz: p(0.016, 'instance-hour', 'TALLY'),
    multiAz: p(0.032, 'instance-hour', 'TALLY'),
  },
  'db.t4g.small': { singleAz: p(0.032, 'instance-hour', 'IC'), multiAz: p(0.064, 'instance-hour', 'TALLY') },
}

/** ElastiCache per node-hour, by engine. Valkey lists at 0.8 × Redis OSS. */
export const CACHE_NODE_HOURLY: Record<'redis' | 'valkey', Record<string, Price>> = {
  redis: {
    'cache.t3.micro': p(0.017, 'node-hour', 'PLPY'),
    'cache.t4g.micro': p(0.016, 'node-hour', 'PLPY'),
  },
  valkey: {
    'cache.t3.micro': p(0.0136, 'node-hour', 'PLPY'),
    'cache.t4g.micro': p(0.0128, 'node-hour', 'PLPY'),
  },
}

export const PRICES = {
  rdsGp3SingleAz: p(0.115, 'GB-month', 'IC'),
  rdsGp3MultiAz: p(0.23, 'GB-month', 'IC'),
  rdsBackupBeyondFree: p(0.095, 'GB-month', 'IC'),
  cacheSnapshot: p(0.085, 'GB-month', 'IC'),
  fargateX86Vcpu: p(0.04048, 'vCPU-hour', 'IC'),
  fargateX86Memory: p(0.004445, 'GB-hour', 'IC'),
  fargateArmVcpu: p(0.03238, 'vCPU-hour', 'HOST'),
  fargateArmMemory: p(0.00356, 'GB-hour', 'HOST'),
  albHour: p(0.0225, 'hour', 'IC'),
  albLcu: p(0.008, 'LCU-hour', 'IC'),
  natHour: p(0.045, 'hour', 'IC'),
  natData: p(0.045, 'GB', 'IC'),
  interfaceEndpointHour: p(0.01, 'endpoint-AZ-hour', 'IC'),
  interfaceEndpointData: p(0.01, 'GB', 'IC'),
  publicIpv4Hour: p(0.005, 'address-hour', 'HOST'),
  kmsKey: p(1.0, 'key-month', 'IC'),
  kmsRequests: p(0.03, '10k requests', 'IC'),
  secret: p(0.4, 'secret-month', 'IC'),
  alarm: p(0.1, 'alarm-month', 'IC'),
  dashboard: p(3.0, 'dashboard-month', 'IC'),
  logsIngestion: p(0.5, 'GB', 'IC'),
  logsStorage: p(0.03, 'GB-month', 'IC'),
  s3Standard: p(0.023, 'GB-month', 'MCP'),
  ecrStorage: p(0.1, 'GB-month', 'IC'),
  budgetWithoutActions: p(0, 'budget-month', 'HFB'),
  anomalyDetection: p(0, 'monitor-month', 'CAD'),
} as const

/** Free tiers (account-wide: they apply once per account, not once per stack). */
export const FREE_TIERS = {
  alarms: { quantity: 10, source: 'CWP' as SourceKey },
  dashboards: { quantity: 3, source: 'CWP' as SourceKey },
  logsGb: { quantity: 5, source: 'CWP' as SourceKey },
}

/** 1-year no-upfront reserved-instance discounts. */
export const RESERVED_DISCOUNT = {
  rds: {
    fraction: 0.3,
    source: 'IC' as SourceKey,
    evidence: 'MySQL db.t3.large RI $69.86 vs $99.28 on-demand (29.6 %)',
  },
  cache: {
    fraction: 0.32,
    source: 'IC' as SourceKey,
    evidence: 'cache.m6g.12xlarge RI $1,772.44 vs $2,596.61 (31.7 %)',
  },
}

/** The estimate of the old deployment guide, for comparison. */
export const GUIDE_ESTIMATE = {
  totalUsd: 84,
  singleAzSavingUsd: 17,
  lines: { rds: 35, cache: 12, fargate: '10-30', alb: 18, other: 5 },
}

/** Items the model cannot price, shown so that nobody mistakes their absence for zero. */
export const NOT_PRICED = [
  'Container Insights: billed as custom metrics plus performance-log ingestion; usage-dependent and not pinned down by a price-list line',
  'Internet data transfer out beyond the free 100 GB/month: $0.09/GB',
  'RDS CPU credits if a burstable instance runs above baseline in Unlimited mode: $0.075/vCPU-hour',
  'Cost Explorer API calls: $0.01 per request (the console is free)',
]
