// Builds the full cost report of a stack (estimate, lean alternative, single-AZ, reserved, guide) and
// renders it as a table. Pure: the CLI only reads the stack file and prints.
import type { StackConfig } from '../config.js'
import { LEAN_TARGET_USD, leanAlternative } from './lean.js'
import {
  type CostEstimate,
  type CostItem,
  estimate,
  freeTierSaving,
  leftOutOfGuide,
  NOT_PRICED,
  type ReservedSavings,
  reservedSavings,
  type SingleAzComparison,
  SOURCES,
  singleAzComparison,
  sumOf,
  USAGE,
} from './model.js'
import { GUIDE_ESTIMATE, PRICE_REGION, PRICE_TABLE_DATE } from './prices.js'

export interface CostReport extends CostEstimate {
  region: string
  priceRegion: string
  priceTableDate: string
  currency: 'USD'
  /** Total if this stack is alone in its account and gets the CloudWatch free tiers. */
  totalWithFreeTiers: number
  singleAz: SingleAzComparison
  reserved: ReservedSavings
  guide: { total: number; leftOut: number; leftOutItems: string[]; understatedBy: number }
  lean: {
    total: number
    target: number
    meetsTarget: boolean
    saving: number
    items: CostItem[]
    tradeOffs: string[]
  }
  assumptions: typeof USAGE
  notPriced: string[]
  sources: Record<string, string>
  warnings: string[]
}

const round2 = (n: number) => Math.round(n * 100) / 100

export function costReport(config: StackConfig): CostReport {
  const current = estimate(config)
  const lean = leanAlternative(config)
  const leanEstimate = estimate(lean.config)
  const leftOut = leftOutOfGuide(current)
  const warnings =
    config.region === PRICE_REGION
      ? []
      : [`prices are ${PRICE_REGION} list prices; ${config.region} differs (usually a few percent higher)`]
  if (config.network.egressMode === 'vpc-endpoints') {
    warnings.push(
      'vpc-endpoints gives the tasks no route to the internet: sending through the WhatsApp Cloud API (graph.facebook.com) needs one',
    )
  }
  return {
    ...current,
    region: config.region,
    priceRegion: PRICE_REGION,
    priceTableDate: PRICE_TABLE_DATE,
    currency: 'USD',
    totalWithFreeTiers: round2(current.total - freeTierSaving(config)),
    singleAz: singleAzComparison(config),
    reserved: reservedSavings(current),
    guide: {
      total: GUIDE_ESTIMATE.totalUsd,
      leftOut,
      leftOutItems: current.items
        .filter((i) => i.leftOutOfGuide && i.monthly > 0)
        .map((i) => `${i.service}: ${i.item}`),
      understatedBy: round2(current.total - GUIDE_ESTIMATE.totalUsd),
    },
    lean: {
      total: leanEstimate.total,
      target: LEAN_TARGET_USD,
      meetsTarget: leanEstimate.total <= LEAN_TARGET_USD,
      saving: round2(current.total - leanEstimate.total),
      items: leanEstimate.items,
      tradeOffs: lean.tradeOffs,
    },
    assumptions: USAGE,
    notPriced: NOT_PRICED,
    sources: SOURCES,
    warnings,
  }
}

const usd = (n: number) => `$${n.toFixed(2)}`

function table(items: readonly CostItem[]): string[] {
  const rows = [
    ['service', 'item', 'quantity', 'unit', 'unit price', 'monthly', 'source'],
    ...items.map((i) => [
      i.service,
      i.item,
      String(i.quantity),
      i.unit,
      `$${i.unitPrice}`,
      usd(i.monthly),
      i.source + (i.leftOutOfGuide ? ' *' : ''),
    ]),
  ]
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  const numeric = new Set([2, 4, 5])
  const format = (r: string[]) =>
    r
      .map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd()
  return [format(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(format)]
}

export function renderCostReport(report: CostReport): string {
  const lines = [
    `Monthly cost estimate: stack ${report.stack} (${report.region}), ${report.priceRegion} on-demand list prices of ${report.priceTableDate}, 730 h/month`,
    '',
    ...table(report.items),
    '',
    `TOTAL ${usd(report.total)}/month   (${usd(report.totalWithFreeTiers)} if the CloudWatch free tiers apply to this stack alone)`,
    `  * not in the old guide's ~${usd(report.guide.total)} estimate: ${usd(report.guide.leftOut)}/month (NAT or endpoints, public IPv4, KMS, secrets, alarms, dashboards, logs); the guide is ${usd(report.guide.understatedBy)} short`,
    '',
    `Single-AZ database: ${usd(report.singleAz.singleAzMonthly)} vs Multi-AZ ${usd(report.singleAz.multiAzMonthly)}: saves ${usd(report.singleAz.saving)}/month (the guide said ~${usd(report.singleAz.guideClaimed)}; Multi-AZ doubles both the instance and the storage rate)`,
    `Reserved instances (${report.reserved.term}): RDS -${usd(report.reserved.rds)}, ElastiCache -${usd(report.reserved.cache)} = -${usd(report.reserved.total)}/month`,
    ...report.reserved.evidence.map((e) => `  ${e}`),
    '',
    `Lean alternative: ${usd(report.lean.total)}/month (target <= ${usd(report.lean.target)}: ${report.lean.meetsTarget ? 'met' : 'NOT met'}; ${usd(report.lean.saving)} less than this stack)`,
    '  keeps a Multi-AZ database, 2 cache nodes and 2 API tasks; trade-offs:',
    ...report.lean.tradeOffs.map((t) => `  - ${t}`),
    '',
    `Usage assumptions: ${Object.entries(report.assumptions)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    'Not priced (usage-dependent):',
    ...report.notPriced.map((n) => `  - ${n}`),
    ...report.warnings.map((w) => `WARNING: ${w}`),
    'Sources:',
    ...Object.entries(report.sources).map(([k, v]) => `  ${k}: ${v}`),
  ]
  return `${lines.join('\n')}\n`
}

export { sumOf }
