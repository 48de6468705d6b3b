// CI's access under mocks: the deploy role can provision exactly the resource types this program
// creates, the preview role only reads, and neither can change CI's own identity.
import { describe, expect, it } from 'vitest'
import { rolesHaveBoundary, TYPES } from '../../policy/policies.js'
import { violations } from './policy-harness.js'
import type { StackRun } from './stack-program.js'

interface Statement {
  Sid?: string
  Effect: string
  Action?: string | string[]
  NotAction?: string[]
  Resource: string | string[]
  Condition?: Record<string, Record<string, unknown>>
}

const actionsOf = (s: Statement) => [s.Action ?? []].flat()
const resourcesOf = (s: Statement) => [s.Resource].flat()

/** IAM service prefix of each Pulumi module (or type) the program uses. */
const SERVICE_OF_MODULE: Record<string, string> = {
  ec2: 'ec2',
  vpc: 'ec2',
  rds: 'rds',
  elasticache: 'elasticache',
  secretsmanager: 'secretsmanager',
  kms: 'kms',
  s3: 's3',
  ecs: 'ecs',
  lb: 'elasticloadbalancing',
  ecr: 'ecr',
  appautoscaling: 'application-autoscaling',
  scheduler: 'scheduler',
  servicediscovery: 'servicediscovery',
  sns: 'sns',
  budgets: 'budgets',
  costexplorer: 'ce',
  iam: 'iam',
}
/** Types whose API lives in another service than their Pulumi module says. */
const SERVICE_OF_TYPE: Record<string, string> = {
  'aws:cloudwatch/logGroup:LogGroup': 'logs',
  'aws:cloudwatch/queryDefinition:QueryDefinition': 'logs',
  'aws:cloudwatch/eventRule:EventRule': 'events',
  'aws:cloudwatch/eventTarget:EventTarget': 'events',
  'aws:cloudwatch/metricAlarm:MetricAlarm': 'cloudwatch',
  'aws:cloudwatch/dashboard:Dashboard': 'cloudwatch',
}

export function describeCiAccess(stack: string, getRun: () => StackRun): void {
  const p = `whatsapp-saas-${stack}`
  const account = '123456789012'
  const policyOf = (suffix: string) =>
    JSON.parse(String(getRun().one('aws:iam/policy:Policy', suffix).inputs.policy)) as {
      Statement: Statement[]
    }
  const provisioning = () =>
    getRun()
      .ofType('aws:iam/policy:Policy')
      .filter((x) => String(x.inputs.name).startsWith(`${p}-provisioning-`))
      .flatMap((x) => (JSON.parse(String(x.inputs.policy)) as { Statement: Statement[] }).Statement)

  describe(`${stack}: CI access`, () => {
    it('attaches five provisioning policies to the deploy role, each within IAM’s size limit', () => {
      const run = getRun()
      const names = run
        .ofType('aws:iam/policy:Policy')
        .map((x) => String(x.inputs.name))
        .filter((n) => n.includes('-provisioning-'))
        .sort()
      expect(names).toEqual(
        ['compute', 'data', 'identity', 'network', 'observability'].map(
          (part) => `${p}-provisioning-${part}`,
        ),
      )
      const attachments = run
        .ofType('aws:iam/rolePolicyAttachment:RolePolicyAttachment')
        .filter((a) => a.inputs.role === `${p}-github-deploy`)
      expect(attachments).toHaveLength(5)
      for (const policy of run.ofType('aws:iam/policy:Policy')) {
        // IAM counts a managed policy's size without whitespace: 6,144 characters at most.
        expect(
          String(policy.inputs.policy).replace(/\s/g, '').length,
          String(policy.inputs.name),
        ).toBeLessThan(6144)
      }
    })

    it('can provision every resource type the program creates', () => {
      const allowed = new Set(
        provisioning()
          .filter((s) => s.Effect === 'Allow')
          .flatMap(actionsOf)
          .map((a) => a.split(':')[0]),
      )
      const needed = new Set(
        getRun()
          .items.map((i) => i.type)
          .filter((t) => t.startsWith('aws:'))
          .map(
            (t) =>
              SERVICE_OF_TYPE[t] ?? SERVICE_OF_MODULE[t.split(':')[1]!.split('/')[0]!] ?? `unmapped ${t}`,
          ),
      )
      expect([...needed].filter((service) => !allowed.has(service))).toEqual([])
    })

    it('writes only this stack’s names, region and Environment tag; "*" only for reads or under a condition', () => {
      for (const s of provisioning().filter((x) => x.Effect === 'Allow')) {
        const wildcard = resourcesOf(s).includes('*')
        const reads = actionsOf(s).every((a) => /:(Describe|Get|List|View)/.test(a))
        if (wildcard && !reads && s.Sid !== 'CostAnomalies')
          expect(s.Condition, `${s.Sid} writes on "*" without a condition`).toBeDefined()
        for (const r of resourcesOf(s).filter((x) => x !== '*'))
          expect(r, s.Sid).toMatch(
            new RegExp(
              `${p}|whatsapp-saas[/-]|og:default|user:default|aws-service-role|oidc-provider|example-org-pulumi-state|^arn:aws:kms:us-east-1:\\d{12}:key/`,
            ),
          )
      }
      const iamWrites = provisioning().find((s) => s.Sid === 'WorkloadRolesWithBoundary')!
      expect(iamWrites.Condition).toEqual({
        StringEquals: { 'iam:PermissionsBoundary': `arn:aws:iam::${account}:policy/${p}-workload-boundary` },
      })
      const network = provisioning().find((s) => s.Sid === 'NotOtherEnvironments')!
      expect(network).toMatchObject({
        Effect: 'Deny',
        Condition: {
          Null: { 'ec2:ResourceTag/Environment': 'false' },
          StringNotEquals: { 'ec2:ResourceTag/Environment': stack },
        },
      })
    })

    it('never lets CI change its own roles, their policies, the boundary or the OIDC provider', () => {
      const deny = provisioning().find((s) => s.Sid === 'NotCiIdentity')!
      expect(deny.Effect).toBe('Deny')
      expect(actionsOf(deny)).toEqual(
        expect.arrayContaining(['iam:Put*', 'iam:Attach*', 'iam:Create*', 'iam:Update*']),
      )
      expect(resourcesOf(deny)).toEqual([
        `arn:aws:iam::${account}:role/${p}-github-deploy`,
        `arn:aws:iam::${account}:role/${p}-github-preview`,
        `arn:aws:iam::${account}:policy/${p}-workload-boundary`,
        `arn:aws:iam::${account}:policy/${p}-provisioning-*`,
        `arn:aws:iam::${account}:policy/${p}-github-preview`,
        `arn:aws:iam::${account}:oidc-provider/token.actions.githubusercontent.com`,
      ])
    })

    it('reads and writes the state bucket and its key from config, nothing else of the bucket', () => {
      const state = provisioning().filter((s) => resourcesOf(s).some((r) => r.includes('pulumi-state')))
      // Both stacks live in one account, whose one state bucket they share.
      const bucket = 'example-org-pulumi-state-111111111111'
      expect(state.flatMap(resourcesOf).sort()).toEqual([
        `arn:aws:s3:::${bucket}`,
        `arn:aws:s3:::${bucket}/.pulumi/*`,
      ])
      const key = provisioning().find((s) => s.Sid === 'StateKey')!
      expect(resourcesOf(key)[0]).toMatch(/^arn:aws:kms:us-east-1:\d{12}:key\//)
    })

    it('puts every workload role under the boundary (and the policy rule finds a role without it)', async () => {
      const run = getRun()
      const roles = run.ofType('aws:iam/role:Role')
      const workload = roles.filter(
        (r) => !String(r.inputs.assumeRolePolicy).includes('AssumeRoleWithWebIdentity'),
      )
      expect(workload.length).toBeGreaterThanOrEqual(3)
      for (const role of workload)
        expect(role.inputs.permissionsBoundary, role.name).toBe(
          `arn:aws:iam::${account}:policy/${p}-workload-boundary`,
        )
      const bare = { ...workload[0]!.inputs, permissionsBoundary: undefined }
      expect(await violations(rolesHaveBoundary, TYPES.role, bare, 'bare')).toEqual([
        "bare: permissionsBoundary must be the stack's workload boundary",
      ])
    })

    it('creates a read-only preview role trusted only for pull requests of the repository', () => {
      const run = getRun()
      const role = run.one('aws:iam/role:Role', 'github-preview-role').inputs
      expect(role.name).toBe(`${p}-github-preview`)
      const trust = JSON.parse(String(role.assumeRolePolicy))
      expect(trust.Statement).toHaveLength(1)
      expect(trust.Statement[0].Condition.StringEquals).toEqual({
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': 'repo:example-org/whatsapp-saas:pull_request',
      })
      const statements = policyOf('github-preview-policy').Statement
      for (const s of statements) {
        expect(s.Effect).toBe('Allow')
        for (const action of actionsOf(s)) {
          if (/^(s3:(PutObject|DeleteObject))$/.test(action)) {
            // Only Pulumi's lock objects.
            expect(resourcesOf(s), action).toEqual([expect.stringMatching(/\/\.pulumi\/locks\/\*$/)])
            continue
          }
          expect(action).toMatch(/^[a-z0-9-]+:(Describe|Get|List|View)|^kms:(Decrypt|GenerateDataKey)$/)
        }
      }
      const allActions = statements.flatMap(actionsOf)
      expect(allActions).not.toContain('secretsmanager:GetSecretValue')
      const objectReads = statements.filter((s) => actionsOf(s).includes('s3:GetObject'))
      expect(objectReads.flatMap(resourcesOf)).toEqual([
        expect.stringMatching(/pulumi-state-\d{12}\/\.pulumi\/\*$/),
      ])
      expect(run.outputs.previewRoleArn).toBeTruthy()
      expect(
        run
          .ofType('aws:iam/rolePolicyAttachment:RolePolicyAttachment')
          .filter((a) => a.inputs.role === `${p}-github-preview`),
      ).toHaveLength(1)
    })
  })
}
