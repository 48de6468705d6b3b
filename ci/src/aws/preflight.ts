// The executable pre-deployment checklist of an AWS stack: credentials, stack outputs, certificate, alert
// subscription, budget. Every unmet item is collected so one run shows all of them.
import { DescribeCertificateCommand } from '@aws-sdk/client-acm'
import { DescribeBudgetCommand } from '@aws-sdk/client-budgets'
import { ListSubscriptionsByTopicCommand } from '@aws-sdk/client-sns'
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import type { RunContext } from '../core/types.js'
import { CREDENTIALS_HINT, describeAwsError, isCredentialsError, PreflightError } from './errors.js'
import type { AwsRuntime } from './runtime.js'
import { checkStackOutputs, parseStackOutputs, type StackOutputs } from './stack-outputs.js'

/** Whether a certificate name (possibly a `*.` wildcard) covers the domain. */
export function certificateCovers(name: string, domain: string): boolean {
  const wanted = domain.toLowerCase()
  const candidate = name.toLowerCase()
  if (candidate === wanted) return true
  if (!candidate.startsWith('*.')) return false
  const suffix = candidate.slice(1)
  return wanted.endsWith(suffix) && !wanted.slice(0, -suffix.length).includes('.')
}

export async function callerAccount(runtime: AwsRuntime): Promise<{ account: string; arn: string }> {
  const identity = await runtime.clients.sts.send(new GetCallerIdentityCommand({}))
  return { account: identity?.Account ?? '', arn: identity?.Arn ?? '' }
}

type Check = (outputs: StackOutputs, account: string) => Promise<string>

const checks: Record<string, (runtime: AwsRuntime) => Check> = {
  certificate: (runtime) => async (outputs) => {
    const { Certificate: certificate } = await runtime.clients.acm.send(
      new DescribeCertificateCommand({ CertificateArn: outputs.certificateArn }),
    )
    if (certificate?.Status !== 'ISSUED') {
      throw new Error(
        `certificate ${outputs.certificateArn} is ${certificate?.Status ?? 'missing'}, not ISSUED (finish its DNS validation)`,
      )
    }
    const names = [certificate.DomainName ?? '', ...(certificate.SubjectAlternativeNames ?? [])]
    if (!names.some((name) => certificateCovers(name, outputs.domain))) {
      throw new Error(
        `certificate ${outputs.certificateArn} does not cover ${outputs.domain} (it names ${names.join(', ')})`,
      )
    }
    return `certificate ISSUED for ${outputs.domain}`
  },
  alerts: (runtime) => async (outputs) => {
    const response = await runtime.clients.sns.send(
      new ListSubscriptionsByTopicCommand({ TopicArn: outputs.alertTopicArn }),
    )
    const subscriptions = response.Subscriptions ?? []
    const confirmed = subscriptions.filter(
      (subscription) =>
        subscription.SubscriptionArn?.startsWith('arn:') &&
        subscription.SubscriptionArn !== 'PendingConfirmation',
    )
    if (confirmed.length === 0) {
      const pending = subscriptions.map((subscription) => subscription.Endpoint).filter(Boolean)
      throw new Error(
        pending.length > 0
          ? `alert subscription of ${pending.join(', ')} is PendingConfirmation: confirm the e-mail AWS sent`
          : `alert topic ${outputs.alertTopicArn} has no subscription`,
      )
    }
    return `alerts confirmed for ${confirmed.map((subscription) => subscription.Endpoint).join(', ')}`
  },
  budget: (runtime) => async (outputs, account) => {
    const { Budget: budget } = await runtime.clients.budgets.send(
      new DescribeBudgetCommand({ AccountId: account, BudgetName: outputs.budgetName }),
    )
    if (!budget) throw new Error(`budget ${outputs.budgetName} not found`)
    return `budget ${outputs.budgetName} present (${budget.BudgetLimit?.Amount ?? '?'} ${budget.BudgetLimit?.Unit ?? ''})`
  },
}

/**
 * Runs every check and returns the met items; throws PreflightError listing every unmet one. Outputs that are
 * entirely absent mean the stack was never provisioned: the output-dependent checks wait for the next deploy.
 */
export async function runPreflight(
  runtime: AwsRuntime,
  stack: string,
  rawOutputs: Record<string, string> | undefined,
  ctx: RunContext,
  knownUnmet: string[] = [],
): Promise<string[]> {
  const met: string[] = []
  const unmet: string[] = [...knownUnmet]
  let account: string
  try {
    const identity = await callerAccount(runtime)
    account = identity.account
    met.push(`credentials valid (account ${identity.account}, ${identity.arn})`)
  } catch (error) {
    throw new PreflightError([
      isCredentialsError(error) ? CREDENTIALS_HINT : `credentials: ${describeAwsError(error)}`,
    ])
  }

  if (unmet.length > 0) throw new PreflightError(unmet)
  if (!rawOutputs || Object.keys(rawOutputs).length === 0) {
    ctx.log.warn(
      `stack ${stack} has no outputs yet (never provisioned): certificate, alert and budget checks run on the next deploy`,
    )
    return met
  }
  const problems = checkStackOutputs(rawOutputs)
  if (problems.length > 0) throw new PreflightError(problems)
  const outputs = parseStackOutputs(rawOutputs)
  met.push(`stack ${stack} outputs complete`)

  for (const [name, check] of Object.entries(checks)) {
    try {
      met.push(await check(runtime)(outputs, account))
    } catch (error) {
      unmet.push(`${name}: ${describeAwsError(error)}`)
    }
  }
  if (unmet.length > 0) throw new PreflightError(unmet)
  return met
}
