import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import type { EgressMode, StackConfig } from '../src/config.js'
import { LEAN_TARGET_USD, leanAlternative } from '../src/cost/lean.js'
import {
  alarmCount,
  estimate,
  PROGRAM_COUNTS,
  reservedSavings,
  singleAzComparison,
  sumOf,
  UnknownPriceError,
} from '../src/cost/model.js'
import { RDS_POSTGRES_HOURLY } from '../src/cost/prices.js'
import { type CostReport, costReport, renderCostReport } from '../src/cost/report.js'
import { INFRA_DIR, loadStackConfig } from '../src/stack-file.js'

const staging = loadStackConfig('staging')
const production = loadStackConfig('production')
const withEgress = (config: StackConfig, egressMode: EgressMode): StackConfig => ({
  ...config,
  network: { ...config.network, egressMode },
})
const monthlyOf = (config: StackConfig, predicate: (item: string) => boolean) =>
  sumOf(estimate(config).items.filter((i) => predicate(i.item)))

describe('cost model', () => {
  it.each([staging, production])('totals equal the sum of the items ($stack)', (config) => {
    const result = estimate(config)
    const cents = result.items.reduce((sum, i) => sum + Math.round(i.monthly * 100), 0)
    expect(Math.round(result.total * 100)).toBe(cents)
    // Each line is rounded to the cent: at most half a cent from quantity × unit price.
    for (const i of result.items)
      expect(Math.abs(i.monthly - i.quantity * i.unitPrice)).toBeLessThanOrEqual(0.0051)
  })

  it('prices every line from the one table, with its source', () => {
    for (const i of estimate(production).items) {
      expect(i.source).toMatch(/^[A-Z0-9]+$/)
      expect(i.unit).not.toBe('')
    }
  })

  it('doubles the database instance line with Multi-AZ', () => {
    const line = (multiAz: boolean) =>
      estimate({ ...staging, database: { ...staging.database, multiAz } }).items.find((i) =>
        i.item.endsWith('instance'),
      )!
    expect(line(true).monthly).toBeCloseTo(2 * line(false).monthly, 2)
    expect(line(true).monthly).toBe(52.56)
    for (const prices of Object.values(RDS_POSTGRES_HOURLY))
      expect(prices.multiAz.usd).toBeCloseTo(2 * prices.singleAz.usd, 6)
  })

  it('shows the real single-AZ saving (instance and storage both halve)', () => {
    const comparison = singleAzComparison(production)
    expect(comparison).toEqual({
      multiAzMonthly: 57.16,
      singleAzMonthly: 28.58,
      saving: 28.58,
      guideClaimed: 17,
    })
  })

  it('changes the network lines with the egress mode', () => {
    const network = (mode: EgressMode) =>
      sumOf(estimate(withEgress(staging, mode)).items.filter((i) => i.category === 'network'))
    expect(network('nat-per-az')).toBe(73.9) // 2 × (32.85 + 3.65) + 20 GB × 0.045
    expect(network('single-nat')).toBe(37.4)
    expect(network('vpc-endpoints')).toBe(58.6) // 4 endpoints × 2 AZ × 7.30 + 20 GB × 0.01
    expect(network('public-task-ips')).toBe(10.95) // 3 tasks × 3.65
    expect(monthlyOf(withEgress(staging, 'vpc-endpoints'), (i) => i.startsWith('NAT'))).toBe(0)
  })

  it('prices Graviton, ARM64 and Valkey below their x86 and Redis equivalents', () => {
    const arm = { ...staging, service: { ...staging.service, architecture: 'ARM64' as const } }
    expect(monthlyOf(arm, (i) => i.includes('tasks'))).toBeLessThan(
      monthlyOf(staging, (i) => i.includes('tasks')),
    )
    const valkey = {
      ...staging,
      cache: {
        ...staging.cache,
        engine: 'valkey' as const,
        engineVersion: '8.0',
        nodeType: 'cache.t4g.micro',
      },
    }
    expect(monthlyOf(valkey, (i) => i.includes('cache.t4g.micro'))).toBe(18.69)
  })

  it('refuses a class it has no price for, naming the priced ones', () => {
    const big = { ...staging, database: { ...staging.database, instanceClass: 'db.r6g.large' } }
    expect(() => estimate(big)).toThrow(UnknownPriceError)
    expect(() => estimate(big)).toThrow(/db\.t4g\.small/)
  })

  it('applies the reserved discounts to the instance and node lines only', () => {
    const savings = reservedSavings(estimate(production))
    expect(savings.rds).toBe(15.77) // 30 % of 52.56
    expect(savings.cache).toBe(7.94) // 32 % of 24.82
    expect(savings.total).toBe(23.71)
  })

  it('counts alarms and fixed resources as the program creates them', () => {
    expect(alarmCount(staging)).toBe(PROGRAM_COUNTS.fixedAlarms + 2)
    expect(PROGRAM_COUNTS).toEqual({ kmsKeys: 3, secrets: 5, dashboards: 2, fixedAlarms: 7 })
  })
})

describe('lean alternative', () => {
  it.each([staging, production])(
    'stays at or under 130 USD for $stack, keeping Multi-AZ, 2 cache nodes and 2 tasks',
    (config) => {
      const lean = leanAlternative(config)
      expect(estimate(lean.config).total).toBeLessThanOrEqual(LEAN_TARGET_USD)
      expect(lean.config.database.multiAz).toBe(true)
      expect(lean.config.cache.nodeCount).toBe(2)
      expect(lean.config.service.desiredCount).toBe(2)
      expect(lean.tradeOffs.length).toBeGreaterThanOrEqual(4)
      expect(lean.tradeOffs.join('\n')).toMatch(/ARM64[\s\S]*public-task-ips|public-task-ips[\s\S]*ARM64/)
    },
  )

  it('names only the trade-offs that change something', () => {
    const already = leanAlternative(leanAlternative(production).config)
    expect(already.tradeOffs).toEqual([])
  })
})

describe('cost report and command', () => {
  it('compares with the guide and lists what it left out', () => {
    const report = costReport(production)
    expect(report.guide.leftOutItems.join('\n')).toMatch(
      /NAT gateway[\s\S]*public IPv4[\s\S]*KMS[\s\S]*secrets[\s\S]*alarms[\s\S]*dashboards/,
    )
    expect(report.guide.leftOut).toBeGreaterThan(80)
    expect(report.totalWithFreeTiers).toBeLessThan(report.total)
    expect(report.notPriced.join('\n')).toContain('Container Insights')
    const text = renderCostReport(report)
    expect(text).toContain(`TOTAL $${report.total.toFixed(2)}/month`)
    expect(text).toContain('Lean alternative')
  })

  it('prints JSON in the documented shape', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/cost/cli.ts', '--stack', 'staging', '--json'],
      { cwd: INFRA_DIR },
    )
    const report = JSON.parse(stdout) as CostReport
    expect(report.stack).toBe('staging')
    expect(Object.keys(report.items[0]!)).toEqual(
      expect.arrayContaining(['service', 'item', 'quantity', 'unit', 'unitPrice', 'monthly', 'source']),
    )
    expect(report.total).toBe(estimate(staging).total)
    expect(report.lean.meetsTarget).toBe(true)
  })

  it('fails with a clear line for an unknown stack', async () => {
    const failure = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/cost/cli.ts', '--stack', 'qa'],
      {
        cwd: INFRA_DIR,
      },
    ).catch((error: { code: number; stderr: string }) => error)
    expect(failure).toMatchObject({ code: 1, stderr: expect.stringContaining('Pulumi.qa.yaml') })
  })
})
