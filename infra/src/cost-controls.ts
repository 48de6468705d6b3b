// A monthly cost budget scoped to this stack's Environment tag (activate it as a cost allocation tag)
// with e-mail alerts at 50/80/100 %, and Cost Anomaly Detection with a daily e-mail digest.
import * as aws from '@pulumi/aws'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'

export const BUDGET_ALERT_PERCENTS = [50, 80, 100] as const

export function createCostControls(config: StackConfig): { budget: aws.budgets.Budget } {
  const concern = new Concern('CostControls', config)
  const p = config.namePrefix
  const cc = config.costControls
  const budget = new aws.budgets.Budget(
    `${p}-monthly-budget`,
    {
      name: `${p}-monthly`,
      budgetType: 'COST',
      timeUnit: 'MONTHLY',
      limitAmount: cc.monthlyBudgetUsd.toFixed(2),
      limitUnit: 'USD',
      costFilters: [{ name: 'TagKeyValue', values: [`user:Environment$${config.stack}`] }],
      notifications: [
        ...BUDGET_ALERT_PERCENTS.map((threshold) => ({
          comparisonOperator: 'GREATER_THAN',
          notificationType: 'ACTUAL',
          threshold,
          thresholdType: 'PERCENTAGE',
          subscriberEmailAddresses: [config.alertEmail],
        })),
        {
          comparisonOperator: 'GREATER_THAN',
          notificationType: 'FORECASTED',
          threshold: 100,
          thresholdType: 'PERCENTAGE',
          subscriberEmailAddresses: [config.alertEmail],
        },
      ],
      tags: config.tags,
    },
    concern.child(),
  )

  // One SERVICE monitor per account, and new accounts already have Cost Explorer's default one: the
  // stack subscribes to an existing monitor (anomalyMonitorArn) or creates one only when told to.
  const monitorArn = cc.anomalyMonitor
    ? new aws.costexplorer.AnomalyMonitor(
        `${p}-cost-anomalies`,
        {
          name: `${p}-services`,
          monitorType: 'DIMENSIONAL',
          monitorDimension: 'SERVICE',
          tags: config.tags,
        },
        concern.child(),
      ).arn
    : cc.anomalyMonitorArn
  if (monitorArn === undefined) return { budget }
  new aws.costexplorer.AnomalySubscription(
    `${p}-cost-anomaly-alerts`,
    {
      name: `${p}-anomaly-digest`,
      frequency: 'DAILY',
      monitorArnLists: [monitorArn],
      subscribers: [{ type: 'EMAIL', address: config.alertEmail }],
      thresholdExpression: {
        dimension: {
          key: 'ANOMALY_TOTAL_IMPACT_ABSOLUTE',
          matchOptions: ['GREATER_THAN_OR_EQUAL'],
          values: [String(cc.anomalyThresholdUsd)],
        },
      },
      tags: config.tags,
    },
    concern.child(),
  )
  return { budget }
}
