// `costs`: month-to-date spend by service (Cost Explorer), the forecast, the budget's status, and
// right-sizing recommendations from the last 7 days of CloudWatch metrics with their monthly saving.
import { DescribeBudgetCommand } from '@aws-sdk/client-budgets'
import { type Dimension, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch'
import {
  GetCostAndUsageCommand,
  GetCostForecastCommand,
  type GroupDefinition,
} from '@aws-sdk/client-cost-explorer'
import { DescribeServicesCommand } from '@aws-sdk/client-ecs'
import { DescribeReplicationGroupsCommand } from '@aws-sdk/client-elasticache'
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds'
import {
  CACHE_NODE_HOURLY,
  HOURS_PER_MONTH,
  PRICES,
  type Price,
  RDS_POSTGRES_HOURLY,
  SOURCES,
} from '../../../infra/src/cost/prices.js'
import { describeTaskDefinition } from './ecs-services.js'
import { callerAccount } from './preflight.js'
import type { AwsRuntime } from './runtime.js'
import type { StackOutputs } from './stack-outputs.js'

export interface CostLine {
  service: string
  usageType?: string
  amount: number
}

export interface Recommendation {
  resource: string
  observation: string
  action: string
  monthlySavingUsd: number | null
  priceSource: string
}

export interface CostReport {
  period: { start: string; end: string }
  currency: string
  total: number
  lines: CostLine[]
  forecast?: { endOfMonth: number; start: string; end: string }
  budget?: { name: string; limit: number; actual: number; forecasted?: number; percentUsed: number }
  recommendations?: Recommendation[]
  notes: string[]
}

const day = (date: Date) => date.toISOString().slice(0, 10)

/** Month to date: the first of the month up to tomorrow (Cost Explorer's End is exclusive). */
export function monthToDate(now: Date): { start: string; end: string; nextMonth: string } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1))
  const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1))
  return { start: day(start), end: day(end), nextMonth: day(nextMonth) }
}

const round = (value: number) => Math.round(value * 100) / 100

export async function monthToDateCosts(runtime: AwsRuntime, now: Date, detailed: boolean) {
  const period = monthToDate(now)
  const groupBy: GroupDefinition[] = [{ Type: 'DIMENSION', Key: 'SERVICE' }]
  if (detailed) groupBy.push({ Type: 'DIMENSION', Key: 'USAGE_TYPE' })
  const lines: CostLine[] = []
  let currency = 'USD'
  let nextPageToken: string | undefined
  // Each page is a billed request ($0.01): bounded.
  for (let page = 0; page < 10; page++) {
    const response = await runtime.clients.costExplorer.send(
      new GetCostAndUsageCommand({
        TimePeriod: { Start: period.start, End: period.end },
        Granularity: 'MONTHLY',
        Metrics: ['UnblendedCost'],
        GroupBy: groupBy,
        NextPageToken: nextPageToken,
      }),
    )
    for (const result of response.ResultsByTime ?? []) {
      for (const group of result.Groups ?? []) {
        const cost = group.Metrics?.UnblendedCost
        currency = cost?.Unit ?? currency
        lines.push({
          service: group.Keys?.[0] ?? '?',
          usageType: detailed ? group.Keys?.[1] : undefined,
          amount: Number(cost?.Amount ?? 0),
        })
      }
    }
    nextPageToken = response.NextPageToken
    if (!nextPageToken) break
  }
  const merged = new Map<string, CostLine>()
  for (const line of lines) {
    const key = `${line.service}\u0000${line.usageType ?? ''}`
    const existing = merged.get(key)
    if (existing) existing.amount += line.amount
    else merged.set(key, { ...line })
  }
  const sorted = [...merged.values()]
    .map((line) => ({ ...line, amount: round(line.amount) }))
    .filter((line) => line.amount !== 0)
    .sort((a, b) => b.amount - a.amount)
  return { period, currency, lines: sorted, total: round(sorted.reduce((sum, line) => sum + line.amount, 0)) }
}

export async function endOfMonthForecast(runtime: AwsRuntime, now: Date) {
  const period = monthToDate(now)
  const start = day(now)
  const response = await runtime.clients.costExplorer.send(
    new GetCostForecastCommand({
      TimePeriod: { Start: start, End: period.nextMonth },
      Metric: 'UNBLENDED_COST',
      Granularity: 'MONTHLY',
    }),
  )
  return { endOfMonth: round(Number(response.Total?.Amount ?? 0)), start, end: period.nextMonth }
}

export async function budgetStatus(runtime: AwsRuntime, outputs: StackOutputs) {
  const { account } = await callerAccount(runtime)
  const { Budget: budget } = await runtime.clients.budgets.send(
    new DescribeBudgetCommand({ AccountId: account, BudgetName: outputs.budgetName }),
  )
  const limit = Number(budget?.BudgetLimit?.Amount ?? 0)
  const actual = Number(budget?.CalculatedSpend?.ActualSpend?.Amount ?? 0)
  const forecasted = budget?.CalculatedSpend?.ForecastedSpend?.Amount
  return {
    name: outputs.budgetName,
    limit,
    actual: round(actual),
    forecasted: forecasted === undefined ? undefined : round(Number(forecasted)),
    percentUsed: limit > 0 ? Math.round((actual / limit) * 1000) / 10 : 0,
  }
}

/** The 7-day average of a CloudWatch metric (hourly averages), or undefined without data points. */
export async function sevenDayAverage(
  runtime: AwsRuntime,
  namespace: string,
  metric: string,
  dimensions: Dimension[],
  now: Date,
): Promise<number | undefined> {
  const response = await runtime.clients.cloudwatch.send(
    new GetMetricStatisticsCommand({
      Namespace: namespace,
      MetricName: metric,
      Dimensions: dimensions,
      StartTime: new Date(now.getTime() - 7 * 24 * 3600_000),
      EndTime: now,
      Period: 3600,
      Statistics: ['Average'],
    }),
  )
  const points = (response.Datapoints ?? [])
    .map((point) => point.Average)
    .filter((value) => value !== undefined)
  if (points.length === 0) return undefined
  return points.reduce((sum, value) => sum + value, 0) / points.length
}

/** Smaller classes in the same family, for right-sizing. */
const RDS_SMALLER: Record<string, string> = {
  'db.t3.small': 'db.t3.micro',
  'db.t4g.small': 'db.t4g.micro',
}

const CACHE_SMALLER: Record<string, string> = {
  'cache.t3.small': 'cache.t3.micro',
  'cache.t4g.small': 'cache.t4g.micro',
}

/** Fargate Linux per vCPU-hour and per GB-hour, from the cost model's one price table. */
const FARGATE: Record<'X86_64' | 'ARM64', { vcpu: Price; memoryGb: Price }> = {
  X86_64: { vcpu: PRICES.fargateX86Vcpu, memoryGb: PRICES.fargateX86Memory },
  ARM64: { vcpu: PRICES.fargateArmVcpu, memoryGb: PRICES.fargateArmMemory },
}

/** The source a price was read from, as the cost model states it. */
const sourceOf = (price: Price) => SOURCES[price.source]

/** Valid Fargate memory sizes (MiB) for a CPU size, smallest first. */
const FARGATE_MEMORY: Record<number, number[]> = {
  256: [512, 1024, 2048],
  512: [1024, 2048, 3072, 4096],
  1024: [2048, 3072, 4096, 5120, 6144, 7168, 8192],
  2048: [4096, 5120, 6144, 7168, 8192, 9216, 10240, 11264, 12288, 13312, 14336, 15360, 16384],
}

/** The next smaller valid Fargate size under low CPU and memory, or undefined at the floor. */
export function smallerFargateSize(cpu: number, memory: number): { cpu: number; memory: number } | undefined {
  const smallerCpu = cpu / 2
  const sizes = FARGATE_MEMORY[smallerCpu]
  if (!sizes) return undefined
  const wanted = Math.max(memory / 2, sizes[0]!)
  const fitting = sizes.filter((size) => size <= Math.max(wanted, sizes[0]!))
  return { cpu: smallerCpu, memory: fitting.at(-1) ?? sizes[0]! }
}

async function recommendDatabase(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  now: Date,
): Promise<Recommendation> {
  const { DBInstances: instances } = await runtime.clients.rds.send(
    new DescribeDBInstancesCommand({ DBInstanceIdentifier: outputs.dbInstanceId }),
  )
  const instance = instances?.[0]
  const instanceClass = instance?.DBInstanceClass ?? '?'
  const multiAz = instance?.MultiAZ === true
  const cpu = await sevenDayAverage(
    runtime,
    'AWS/RDS',
    'CPUUtilization',
    [{ Name: 'DBInstanceIdentifier', Value: outputs.dbInstanceId }],
    now,
  )
  const resource = `RDS ${outputs.dbInstanceId} (${instanceClass}${multiAz ? ', Multi-AZ' : ''})`
  if (cpu === undefined) return keep(resource, 'no CPU data in the last 7 days')
  const observation = `CPU ${cpu.toFixed(1)} % average over 7 days`
  const smaller = RDS_SMALLER[instanceClass]
  if (cpu >= 40 || !smaller) {
    return keep(resource, `${observation}${cpu < 40 ? '; already the smallest class priced here' : ''}`)
  }
  const zone = multiAz ? 'multiAz' : 'singleAz'
  const from = RDS_POSTGRES_HOURLY[instanceClass]?.[zone]
  const to = RDS_POSTGRES_HOURLY[smaller]?.[zone]
  return {
    resource,
    observation: `${observation} (< 40 %)`,
    action: `move to ${smaller}`,
    monthlySavingUsd: from && to ? round((from.usd - to.usd) * HOURS_PER_MONTH) : null,
    priceSource:
      from && to ? [...new Set([sourceOf(from), sourceOf(to)])].join('; ') : 'price not in the table',
  }
}

async function recommendCache(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  now: Date,
): Promise<Recommendation> {
  const { ReplicationGroups: groups } = await runtime.clients.elasticache.send(
    new DescribeReplicationGroupsCommand({ ReplicationGroupId: outputs.redisReplicationGroupId }),
  )
  const group = groups?.[0]
  const nodeType = group?.CacheNodeType ?? '?'
  const members = group?.MemberClusters ?? []
  const engine = group?.Engine === 'valkey' ? 'valkey' : 'redis'
  const usages: number[] = []
  for (const member of members) {
    const usage = await sevenDayAverage(
      runtime,
      'AWS/ElastiCache',
      'DatabaseMemoryUsagePercentage',
      [{ Name: 'CacheClusterId', Value: member }],
      now,
    )
    if (usage !== undefined) usages.push(usage)
  }
  const resource = `ElastiCache ${outputs.redisReplicationGroupId} (${members.length} × ${nodeType}, ${engine})`
  if (usages.length === 0) return keep(resource, 'no memory data in the last 7 days')
  const memory = Math.max(...usages)
  const observation = `memory ${memory.toFixed(1)} % (busiest node, 7-day average)`
  const smaller = CACHE_SMALLER[nodeType]
  if (memory < 60 && smaller) {
    const from = CACHE_NODE_HOURLY[engine][nodeType]
    const to = CACHE_NODE_HOURLY[engine][smaller]
    return {
      resource,
      observation: `${observation} (< 60 %)`,
      action: `move to ${smaller}`,
      monthlySavingUsd: from && to ? round((from.usd - to.usd) * HOURS_PER_MONTH * members.length) : null,
      priceSource: from && to ? sourceOf(from) : 'price not in the table',
    }
  }
  if (memory < 60 && nodeType === 'cache.t3.micro') {
    const from = CACHE_NODE_HOURLY[engine]['cache.t3.micro']!
    const to = CACHE_NODE_HOURLY.valkey['cache.t4g.micro']!
    return {
      resource,
      observation: `${observation}; already the smallest node`,
      action: 'move to cache.t4g.micro (Graviton) with the Valkey engine',
      monthlySavingUsd: round((from.usd - to.usd) * HOURS_PER_MONTH * members.length),
      priceSource: sourceOf(to),
    }
  }
  return keep(resource, observation)
}

async function recommendTasks(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  serviceName: string,
  now: Date,
): Promise<Recommendation> {
  const { services } = await runtime.clients.ecs.send(
    new DescribeServicesCommand({ cluster: outputs.clusterName, services: [serviceName] }),
  )
  const service = services?.[0]
  const { definition } = await describeTaskDefinition(runtime, service?.taskDefinition ?? serviceName)
  const cpu = Number(definition.cpu ?? 0)
  const memory = Number(definition.memory ?? 0)
  const arch = definition.runtimePlatform?.cpuArchitecture === 'ARM64' ? 'ARM64' : 'X86_64'
  const desired = service?.desiredCount ?? 0
  const dimensions = [
    { Name: 'ClusterName', Value: outputs.clusterName },
    { Name: 'ServiceName', Value: serviceName },
  ]
  const cpuUse = await sevenDayAverage(runtime, 'AWS/ECS', 'CPUUtilization', dimensions, now)
  const memoryUse = await sevenDayAverage(runtime, 'AWS/ECS', 'MemoryUtilization', dimensions, now)
  const resource = `ECS ${serviceName} (${desired} × ${cpu / 1024} vCPU / ${memory / 1024} GB, ${arch})`
  if (cpuUse === undefined || memoryUse === undefined)
    return keep(resource, 'no utilisation data in the last 7 days')
  const observation = `CPU ${cpuUse.toFixed(1)} %, memory ${memoryUse.toFixed(1)} % (7-day average)`
  const smaller = cpuUse < 40 && memoryUse < 60 ? smallerFargateSize(cpu, memory) : undefined
  if (!smaller) return keep(resource, observation)
  const price = FARGATE[arch]
  const hourly =
    ((cpu - smaller.cpu) / 1024) * price.vcpu.usd + ((memory - smaller.memory) / 1024) * price.memoryGb.usd
  return {
    resource,
    observation: `${observation} (CPU < 40 %, memory < 60 %)`,
    action: `task size ${smaller.cpu / 1024} vCPU / ${smaller.memory / 1024} GB`,
    monthlySavingUsd: round(hourly * desired * HOURS_PER_MONTH),
    priceSource: sourceOf(price.vcpu),
  }
}

function keep(resource: string, observation: string): Recommendation {
  return { resource, observation, action: 'keep', monthlySavingUsd: 0, priceSource: '-' }
}

export async function rightSizing(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  now: Date,
): Promise<Recommendation[]> {
  return [
    await recommendDatabase(runtime, outputs, now),
    await recommendCache(runtime, outputs, now),
    await recommendTasks(runtime, outputs, outputs.apiServiceName, now),
    await recommendTasks(runtime, outputs, outputs.workerServiceName, now),
  ]
}

export interface CostOptions {
  detailed: boolean
  forecast: boolean
  recommend: boolean
}

export async function costReport(
  runtime: AwsRuntime,
  outputs: StackOutputs,
  options: CostOptions,
  now = new Date(runtime.clock.now()),
): Promise<CostReport> {
  const spend = await monthToDateCosts(runtime, now, options.detailed)
  const report: CostReport = {
    period: { start: spend.period.start, end: spend.period.end },
    currency: spend.currency,
    total: spend.total,
    lines: spend.lines,
    notes: [
      'Cost Explorer figures are for the whole account (each Cost Explorer request costs $0.01).',
      'Container Insights and public IPv4 charges are usage-dependent: see the ALB and CloudWatch lines.',
    ],
  }
  if (options.forecast) report.forecast = await endOfMonthForecast(runtime, now)
  try {
    report.budget = await budgetStatus(runtime, outputs)
  } catch (error) {
    report.notes.push(`budget ${outputs.budgetName}: ${(error as Error).message}`)
  }
  if (options.recommend) report.recommendations = await rightSizing(runtime, outputs, now)
  return report
}

const money = (value: number) => `$${value.toFixed(2)}`

export function renderCostReport(report: CostReport): string {
  const out: string[] = [
    `Spend ${report.period.start} → ${report.period.end} (month to date, ${report.currency})`,
  ]
  const width = Math.max(
    20,
    ...report.lines.map((line) => `${line.service}${line.usageType ? ` / ${line.usageType}` : ''}`.length),
  )
  for (const line of report.lines) {
    const name = `${line.service}${line.usageType ? ` / ${line.usageType}` : ''}`
    out.push(`  ${name.padEnd(width)}  ${money(line.amount).padStart(10)}`)
  }
  out.push(`  ${'total'.padEnd(width)}  ${money(report.total).padStart(10)}`)
  if (report.forecast)
    out.push(`Forecast to ${report.forecast.end}: ${money(report.forecast.endOfMonth)} more this month`)
  if (report.budget) {
    const budget = report.budget
    out.push(
      `Budget ${budget.name}: ${money(budget.actual)} of ${money(budget.limit)} (${budget.percentUsed} %)${budget.forecasted !== undefined ? `, forecast ${money(budget.forecasted)}` : ''}`,
    )
  }
  if (report.recommendations) {
    out.push('Right-sizing (last 7 days):')
    for (const recommendation of report.recommendations) {
      const saving =
        recommendation.monthlySavingUsd === null
          ? 'saving unknown'
          : `saves ${money(recommendation.monthlySavingUsd)}/month`
      out.push(
        `  ${recommendation.resource}: ${recommendation.observation} → ${recommendation.action}${recommendation.action === 'keep' ? '' : ` (${saving}; prices: ${recommendation.priceSource})`}`,
      )
    }
  }
  for (const note of report.notes) out.push(`note: ${note}`)
  return out.join('\n')
}
