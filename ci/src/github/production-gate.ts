// The production gate must exist before anything is promoted: GitHub creates an environment the first
// time a job names it, without protection rules, so a `production` environment nobody protected would
// let the deploy workflow promote without approval. Run by .github/workflows/deploy.yml before the
// production job (Node >= 22.18 runs this file as is: it imports only node: built-ins and uses only
// erasable TypeScript syntax).
//
// GET /repos/{owner}/{repo}/environments/{name} is readable by anyone with read access; a fine-grained
// token (the workflow's GITHUB_TOKEN) needs the "Actions" repository permission (read).
import { appendFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

export const ENVIRONMENT = 'production'

export interface GateVerdict {
  ok: boolean
  /** One line for the log and the job summary. */
  reason: string
  /** The one-line fix when not ok. */
  fix?: string
}

interface ProtectionRule {
  type?: string
  reviewers?: unknown[]
}

/** The `gh` command that adds the caller as required reviewer (creating the environment if needed). */
export function fixCommand(repository: string): string {
  return `gh api -X PUT repos/${repository}/environments/${ENVIRONMENT} --input - <<<'{"reviewers":[{"type":"User","id":'"$(gh api user --jq .id)"'}]}'`
}

export async function checkProductionGate(input: {
  repository: string
  token: string
  apiUrl?: string
  fetch?: typeof globalThis.fetch
}): Promise<GateVerdict> {
  const fetchImpl = input.fetch ?? globalThis.fetch
  const url = `${input.apiUrl ?? 'https://api.github.com'}/repos/${input.repository}/environments/${ENVIRONMENT}`
  const fix = fixCommand(input.repository)
  const response = await fetchImpl(url, {
    headers: {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${input.token}`,
      'x-github-api-version': '2022-11-28',
    },
  })
  if (response.status === 404) {
    return { ok: false, reason: `the \`${ENVIRONMENT}\` environment does not exist`, fix }
  }
  if (!response.ok) {
    return {
      ok: false,
      reason: `cannot read the \`${ENVIRONMENT}\` environment (HTTP ${response.status}): the job needs \`actions: read\``,
    }
  }
  const body = (await response.json()) as { protection_rules?: ProtectionRule[] }
  const reviewers = (body.protection_rules ?? [])
    .filter((rule) => rule.type === 'required_reviewers')
    .reduce((count, rule) => count + (rule.reviewers?.length ?? 0), 0)
  if (reviewers === 0) {
    return { ok: false, reason: `the \`${ENVIRONMENT}\` environment has no required reviewer`, fix }
  }
  return { ok: true, reason: `the \`${ENVIRONMENT}\` environment requires a reviewer (${reviewers} set)` }
}

export function summaryMarkdown(verdict: GateVerdict): string {
  if (verdict.ok) return `### Production gate\n\nOK: ${verdict.reason}.\n`
  return [
    '### Production gate: refused to promote',
    '',
    `${verdict.reason[0]!.toUpperCase()}${verdict.reason.slice(1)}, so production would deploy without approval.`,
    ...(verdict.fix ? ['', 'Fix (once, by a repository admin):', '', '```sh', verdict.fix, '```'] : []),
    '',
  ].join('\n')
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { GITHUB_REPOSITORY: repository, GITHUB_TOKEN: token } = env
  if (!repository || !token) {
    console.error('GITHUB_REPOSITORY and GITHUB_TOKEN are required')
    return 2
  }
  const verdict = await checkProductionGate({ repository, token, apiUrl: env.GITHUB_API_URL })
  if (env.GITHUB_STEP_SUMMARY) appendFileSync(env.GITHUB_STEP_SUMMARY, summaryMarkdown(verdict))
  console.log(`production gate: ${verdict.ok ? 'ok' : 'refused'}: ${verdict.reason}`)
  if (verdict.fix) console.log(`fix: ${verdict.fix}`)
  return verdict.ok ? 0 : 1
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main()
}
