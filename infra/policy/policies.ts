// The policy pack's rules, apart from `new PolicyPack(...)` so each can be unit-tested by calling
// `validateResource` directly. Rules read resource inputs by Pulumi type token (no SDK classes needed).
// "Production" is the `Environment` tag every resource of this program carries (see src/config.ts).

import type {
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from '@pulumi/policy'
import {
  connectionBudget,
  defaultMaxConnections,
  OPS_RESERVE_TAG,
  POOL_SIZE_VARIABLE,
  type PoolDemand,
} from '../src/connection-budget.js'

type Props = Record<string, unknown>
type Check = (props: Props, type: string) => string[]

export const TYPES = {
  rdsInstance: 'aws:rds/instance:Instance',
  rdsCluster: 'aws:rds/cluster:Cluster',
  replicationGroup: 'aws:elasticache/replicationGroup:ReplicationGroup',
  cacheParameterGroup: 'aws:elasticache/parameterGroup:ParameterGroup',
  bucketEncryption: 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
  bucketPublicAccessBlock: 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock',
  ecrRepository: 'aws:ecr/repository:Repository',
  logGroup: 'aws:cloudwatch/logGroup:LogGroup',
  securityGroup: 'aws:ec2/securityGroup:SecurityGroup',
  securityGroupRule: 'aws:ec2/securityGroupRule:SecurityGroupRule',
  ingressRule: 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule',
  listener: 'aws:lb/listener:Listener',
  loadBalancer: 'aws:lb/loadBalancer:LoadBalancer',
  taskDefinition: 'aws:ecs/taskDefinition:TaskDefinition',
  service: 'aws:ecs/service:Service',
  scalingTarget: 'aws:appautoscaling/target:Target',
  rdsParameterGroup: 'aws:rds/parameterGroup:ParameterGroup',
  role: 'aws:iam/role:Role',
} as const

/** Listener policies that refuse anything below TLS 1.2. */
export const TLS12_POLICIES = new Set([
  'ELBSecurityPolicy-TLS13-1-2-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Res-2021-06',
  'ELBSecurityPolicy-TLS13-1-3-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-3-PQ-2025-09',
  'ELBSecurityPolicy-TLS-1-2-2017-01',
  'ELBSecurityPolicy-TLS-1-2-Ext-2018-06',
  'ELBSecurityPolicy-FS-1-2-2019-08',
  'ELBSecurityPolicy-FS-1-2-Res-2019-08',
  'ELBSecurityPolicy-FS-1-2-Res-2020-10',
])
export const MIN_BACKUP_RETENTION_DAYS = 7
/** The only ports open to the internet: the load balancer's HTTPS and its HTTP redirect. */
export const PUBLIC_PORTS = new Set([80, 443])

const isProduction = (props: Props) =>
  (props.tags as Record<string, string> | undefined)?.Environment?.toLowerCase() === 'production'

function policy(
  name: string,
  description: string,
  types: readonly string[],
  check: Check,
): ResourceValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: 'mandatory',
    validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
      if (!types.includes(args.type)) return
      for (const message of check(args.props, args.type)) reportViolation(`${args.name}: ${message}`)
    },
  }
}

const when = (failed: boolean, message: string) => (failed ? [message] : [])
const isOpenCidr = (cidr: unknown) => cidr === '0.0.0.0/0' || cidr === '::/0'

export const databaseEncrypted = policy(
  'database-encrypted-with-kms',
  'RDS storage is encrypted with a customer-managed KMS key',
  [TYPES.rdsInstance, TYPES.rdsCluster],
  (p) => [
    ...when(p.storageEncrypted !== true, 'storageEncrypted must be true'),
    ...when(!p.kmsKeyId, 'kmsKeyId must name a customer-managed key'),
  ],
)

export const cacheEncrypted = policy(
  'cache-encrypted',
  'ElastiCache is encrypted at rest (KMS) and in transit',
  [TYPES.replicationGroup],
  (p) => [
    ...when(p.atRestEncryptionEnabled !== true, 'atRestEncryptionEnabled must be true'),
    ...when(!p.kmsKeyId, 'kmsKeyId must name a customer-managed key'),
    ...when(p.transitEncryptionEnabled !== true, 'transitEncryptionEnabled must be true'),
  ],
)

export const bucketEncryptedWithKms = policy(
  'bucket-encrypted-with-kms',
  'S3 default encryption is aws:kms with a named key',
  [TYPES.bucketEncryption],
  (p) => {
    const rules = (p.rules as { applyServerSideEncryptionByDefault?: Props }[] | undefined) ?? []
    const defaults = rules.map((rule) => rule.applyServerSideEncryptionByDefault ?? {})
    return when(
      defaults.length === 0 || defaults.some((d) => d.sseAlgorithm !== 'aws:kms' || !d.kmsMasterKeyId),
      'every rule must apply sseAlgorithm aws:kms with kmsMasterKeyId',
    )
  },
)

export const repositoryEncryptedWithKms = policy(
  'ecr-encrypted-with-kms',
  'ECR repositories are encrypted with KMS',
  [TYPES.ecrRepository],
  (p) => {
    const configs = (p.encryptionConfigurations as Props[] | undefined) ?? []
    return when(
      configs.length === 0 || configs.some((c) => c.encryptionType !== 'KMS'),
      'encryptionConfigurations must use encryptionType KMS',
    )
  },
)

export const logsEncryptedWithKms = policy(
  'logs-encrypted-with-kms',
  'CloudWatch log groups are encrypted with a KMS key',
  [TYPES.logGroup],
  (p) => when(!p.kmsKeyId, 'kmsKeyId must be set'),
)

export const noPublicDatabase = policy(
  'no-public-database-or-cache',
  'Databases and caches are not publicly accessible and live in explicit private subnet groups',
  [TYPES.rdsInstance, TYPES.replicationGroup],
  (p, type) =>
    type !== TYPES.replicationGroup
      ? [
          ...when(p.publiclyAccessible === true, 'publiclyAccessible must be false'),
          ...when(!p.dbSubnetGroupName, 'dbSubnetGroupName must name the private database subnets'),
        ]
      : [
          ...when(!p.subnetGroupName, 'subnetGroupName must name the private database subnets'),
          ...when(
            !Array.isArray(p.securityGroupIds) || p.securityGroupIds.length === 0,
            'securityGroupIds must be explicit (not the default security group)',
          ),
        ],
)

interface RuleShape {
  protocol?: unknown
  ipProtocol?: unknown
  fromPort?: unknown
  toPort?: unknown
  cidrBlocks?: unknown
  ipv6CidrBlocks?: unknown
  cidrIpv4?: unknown
  cidrIpv6?: unknown
  type?: unknown
}
function openIngressProblems(rule: RuleShape): string[] {
  const cidrs = [
    ...((rule.cidrBlocks as unknown[]) ?? []),
    ...((rule.ipv6CidrBlocks as unknown[]) ?? []),
    rule.cidrIpv4,
    rule.cidrIpv6,
  ]
  if (!cidrs.some(isOpenCidr)) return []
  const protocol = String(rule.ipProtocol ?? rule.protocol ?? '')
  const from = Number(rule.fromPort)
  const to = Number(rule.toPort)
  const onlyPublicPort = (protocol === 'tcp' || protocol === '6') && from === to && PUBLIC_PORTS.has(from)
  return when(
    !onlyPublicPort,
    `ingress from anywhere is allowed only on tcp 80/443 (got ${protocol} ${from}-${to})`,
  )
}

export const noOpenIngress = policy(
  'no-open-ingress',
  'No ingress from 0.0.0.0/0 or ::/0 except the load balancer on tcp 80 and 443',
  [TYPES.securityGroup, TYPES.securityGroupRule, TYPES.ingressRule],
  (p) => {
    if (p.type !== undefined && p.type !== 'ingress') return [] // aws.ec2.SecurityGroupRule of type egress
    const rules =
      p.ingress !== undefined
        ? (p.ingress as RuleShape[])
        : p.cidrIpv4 || p.cidrBlocks || p.cidrIpv6
          ? [p]
          : []
    return rules.flatMap(openIngressProblems)
  },
)

export const listenerTls12 = policy(
  'listener-tls-1-2-or-newer',
  'HTTPS listeners use a TLS 1.2+ policy; plain HTTP listeners only redirect to HTTPS',
  [TYPES.listener],
  (p) => {
    if (p.protocol === 'HTTPS' || p.protocol === 'TLS') {
      return when(
        !TLS12_POLICIES.has(String(p.sslPolicy)),
        `sslPolicy ${String(p.sslPolicy)} allows TLS below 1.2`,
      )
    }
    const actions = (p.defaultActions as { type?: string; redirect?: Props }[] | undefined) ?? []
    return when(
      actions.length === 0 || actions.some((a) => a.type !== 'redirect' || a.redirect?.protocol !== 'HTTPS'),
      'a non-TLS listener must only redirect to HTTPS',
    )
  },
)

export const bucketPublicAccessBlocked = policy(
  's3-public-access-block',
  'S3 public access blocks turn on all four settings',
  [TYPES.bucketPublicAccessBlock],
  (p) =>
    (['blockPublicAcls', 'blockPublicPolicy', 'ignorePublicAcls', 'restrictPublicBuckets'] as const)
      .filter((key) => p[key] !== true)
      .map((key) => `${key} must be true`),
)

export const productionResilience = policy(
  'production-deletion-protection-and-multi-az',
  'In production, databases have deletion protection and Multi-AZ; caches are Multi-AZ with failover',
  [TYPES.rdsInstance, TYPES.replicationGroup],
  (p, type) => {
    if (!isProduction(p)) return []
    if (type === TYPES.replicationGroup) {
      return [
        ...when(p.multiAzEnabled !== true, 'multiAzEnabled must be true in production'),
        ...when(p.automaticFailoverEnabled !== true, 'automaticFailoverEnabled must be true in production'),
      ]
    }
    return [
      ...when(p.deletionProtection !== true, 'deletionProtection must be true in production'),
      ...when(p.multiAz !== true, 'multiAz must be true in production'),
    ]
  },
)

export const backupRetention = policy(
  'backup-retention-7-days',
  `Automated backups and snapshots are kept at least ${MIN_BACKUP_RETENTION_DAYS} days`,
  [TYPES.rdsInstance, TYPES.rdsCluster, TYPES.replicationGroup],
  (p, type) => {
    const key = type === TYPES.replicationGroup ? 'snapshotRetentionLimit' : 'backupRetentionPeriod'
    const days = Number(p[key] ?? 0)
    return when(days < MIN_BACKUP_RETENTION_DAYS, `${key} is ${days}, needs >= ${MIN_BACKUP_RETENTION_DAYS}`)
  },
)

/** Names that only secrets carry, and values that embed credentials (`scheme://user:password@`). */
const SECRET_NAME = /(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|ACCESS_KEY|DATABASE_URL|REDIS_URL)/i
const CREDENTIALS_IN_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i

export const noSecretsInTaskEnvironment = policy(
  'no-secrets-in-task-environment',
  'Task definitions take secrets from Secrets Manager (`secrets`), never as plain `environment` values',
  [TYPES.taskDefinition],
  (p) => {
    // During a preview the definitions may still hold unknown outputs; the rule applies once they are known.
    if (typeof p.containerDefinitions !== 'string') return []
    const containers = JSON.parse(p.containerDefinitions) as {
      name?: string
      environment?: { name: string; value: string }[]
    }[]
    return containers.flatMap((c) =>
      (c.environment ?? [])
        .filter((e) => SECRET_NAME.test(e.name) || CREDENTIALS_IN_URL.test(String(e.value)))
        .map((e) => `container ${c.name ?? '?'}: ${e.name} looks like a secret; move it to "secrets"`),
    )
  },
)

/**
 * CI may create and change roles only with the workload permissions boundary attached (provisioning.ts):
 * a role without it would make `pulumi up` from CI fail with AccessDenied, or, created by an
 * administrator, hold permissions CI could then widen. The GitHub roles (web identity) are the exception:
 * CI cannot change them at all.
 */
export const rolesHaveBoundary = policy(
  'workload-roles-have-permissions-boundary',
  'Every IAM role except the GitHub OIDC roles carries the workload permissions boundary',
  [TYPES.role],
  (p) => {
    if (typeof p.assumeRolePolicy !== 'string') return []
    if (p.assumeRolePolicy.includes('sts:AssumeRoleWithWebIdentity')) return []
    return when(!p.permissionsBoundary, "permissionsBoundary must be the stack's workload boundary")
  },
)

/**
 * The resource rule above cannot know whose security group a rule opens; this stack rule can: every
 * rule open to the internet must sit on a security group a load balancer uses. The group is matched
 * by dependency (during a real preview ids are still unknown) or, failing that, by id.
 */
export const openIngressOnlyOnLoadBalancer: StackValidationPolicy = {
  name: 'open-ingress-only-on-load-balancer',
  description: 'Ingress from 0.0.0.0/0 or ::/0 only on security groups attached to a load balancer',
  enforcementLevel: 'mandatory',
  validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
    const balancers = args.resources.filter((r) => r.type === TYPES.loadBalancer)
    const groupUrns = new Set(
      balancers.flatMap((lb) => (lb.propertyDependencies?.securityGroups ?? []).map((d) => d.urn)),
    )
    const groupIds = new Set(
      balancers.flatMap((lb) => (lb.props.securityGroups as string[] | undefined) ?? []),
    )
    const opensToAnyone = (r: PolicyResource) => {
      const rules: RuleShape[] =
        r.type === TYPES.securityGroup ? ((r.props.ingress as RuleShape[] | undefined) ?? []) : [r.props]
      return rules.some((rule) =>
        [
          ...((rule.cidrBlocks as unknown[]) ?? []),
          ...((rule.ipv6CidrBlocks as unknown[]) ?? []),
          rule.cidrIpv4,
          rule.cidrIpv6,
        ].some(isOpenCidr),
      )
    }
    for (const r of args.resources) {
      const isIngress =
        r.type === TYPES.ingressRule ||
        r.type === TYPES.securityGroup ||
        (r.type === TYPES.securityGroupRule && r.props.type === 'ingress')
      if (!isIngress || !opensToAnyone(r)) continue
      const attached =
        r.type === TYPES.securityGroup
          ? groupUrns.has(r.urn)
          : (r.propertyDependencies?.securityGroupId ?? []).some((d) => groupUrns.has(d.urn)) ||
            groupIds.has(String(r.props.securityGroupId))
      if (!attached)
        reportViolation(`${r.name}: open to the internet on a security group no load balancer uses`, r.urn)
    }
  },
}

/**
 * BullMQ loses or repeats jobs when Redis evicts its keys: every cache must use a parameter group of
 * this stack whose `maxmemory-policy` is `noeviction` (the engines' default groups use volatile-lru).
 */
export const cacheNoEviction: StackValidationPolicy = {
  name: 'cache-maxmemory-noeviction',
  description: 'ElastiCache replication groups use a parameter group with maxmemory-policy noeviction',
  enforcementLevel: 'mandatory',
  validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
    const groups = args.resources.filter((r) => r.type === TYPES.cacheParameterGroup)
    for (const cache of args.resources.filter((r) => r.type === TYPES.replicationGroup)) {
      const name = cache.props.parameterGroupName
      const dependency = new Set((cache.propertyDependencies?.parameterGroupName ?? []).map((d) => d.urn))
      const group = groups.find((g) => dependency.has(g.urn) || (name !== undefined && g.props.name === name))
      if (!group) {
        reportViolation(
          `${cache.name}: parameterGroupName ${String(name ?? '(default)')} is not a parameter group of this stack with maxmemory-policy noeviction`,
          cache.urn,
        )
        continue
      }
      const parameters = (group.props.parameters as { name?: string; value?: string }[] | undefined) ?? []
      const policy = parameters.find((x) => x.name === 'maxmemory-policy')?.value
      if (policy !== 'noeviction')
        reportViolation(
          `${cache.name}: parameter group ${group.name} has maxmemory-policy ${policy ?? '(engine default volatile-lru)'}, needs noeviction`,
          cache.urn,
        )
    }
  },
}

interface ContainerShape {
  name?: string
  environment?: { name: string; value: string }[]
  secrets?: { name: string }[]
}

/**
 * Every ECS service's tasks at their peak (the autoscaling maximum, or the desired count, times the
 * rollout surge) times the pool size their task definition gives (`DATABASE_POOL_MAX`), plus the ops
 * reserve, must fit in 90 % of max_connections (the parameter group's, or the class's default).
 * A service whose containers get DATABASE_URL without a pool size is a violation: its pool is unbounded
 * by the budget. Resources still unknown during a first preview are left to the config validation,
 * which checks the same sum from the stack settings.
 */
export const databaseConnectionBudget: StackValidationPolicy = {
  name: 'database-connection-budget',
  description:
    'Pools of all tasks that can run at once, plus the ops reserve, fit in 90 % of max_connections',
  enforcementLevel: 'mandatory',
  validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
    const ofType = (type: string) => args.resources.filter((r) => r.type === type)
    const database = ofType(TYPES.rdsInstance)[0]
    if (!database) return
    const parameterGroup =
      ofType(TYPES.rdsParameterGroup).find(
        (g) =>
          (database.propertyDependencies?.parameterGroupName ?? []).some((d) => d.urn === g.urn) ||
          (g.props.name !== undefined && g.props.name === database.props.parameterGroupName),
      ) ?? ofType(TYPES.rdsParameterGroup)[0]
    const parameters =
      (parameterGroup?.props.parameters as { name?: string; value?: string }[] | undefined) ?? []
    const configured = parameters.find((x) => x.name === 'max_connections')?.value
    const instanceClass = String(database.props.instanceClass ?? '')
    const maxConnections =
      configured !== undefined ? Number(configured) : defaultMaxConnections(instanceClass)
    if (maxConnections === undefined || !Number.isFinite(maxConnections)) {
      reportViolation(
        `${database.name}: max_connections unknown (no parameter and no default for ${instanceClass}): set it in the parameter group`,
        database.urn,
      )
      return
    }
    const tags = (parameterGroup?.props.tags as Record<string, string> | undefined) ?? {}
    const opsReserve = Number(tags[OPS_RESERVE_TAG] ?? 0)

    const taskDefinitions = ofType(TYPES.taskDefinition)
    const familyOfArn = (arn: unknown) => /:task-definition\/([^:]+)/.exec(String(arn ?? ''))?.[1]
    const demands: PoolDemand[] = []
    for (const service of ofType(TYPES.service)) {
      const dependency = new Set((service.propertyDependencies?.taskDefinition ?? []).map((d) => d.urn))
      const family = familyOfArn(service.props.taskDefinition)
      const definition = taskDefinitions.find((d) => dependency.has(d.urn) || d.props.family === family)
      if (!definition || typeof definition.props.containerDefinitions !== 'string') continue
      const containers = JSON.parse(definition.props.containerDefinitions) as ContainerShape[]
      const connects = containers.filter((c) =>
        [...(c.secrets ?? []), ...(c.environment ?? [])].some((v) => v.name === 'DATABASE_URL'),
      )
      if (connects.length === 0) continue
      let pool = 0
      for (const c of connects) {
        const value = c.environment?.find((e) => e.name === POOL_SIZE_VARIABLE)?.value
        if (value === undefined || !/^\d+$/.test(value)) {
          reportViolation(
            `${service.name}: container ${c.name ?? '?'} connects to the database without ${POOL_SIZE_VARIABLE}`,
            service.urn,
          )
          continue
        }
        pool += Number(value)
      }
      const name = String(service.props.name ?? service.name)
      const scaling = ofType(TYPES.scalingTarget).find((t) =>
        String(t.props.resourceId ?? '').endsWith(`/${name}`),
      )
      const count = Number(scaling?.props.maxCapacity ?? service.props.desiredCount ?? 1)
      const surgePercent = Number(service.props.deploymentMaximumPercent ?? 200)
      demands.push({
        label: name,
        tasks: Math.ceil((count * surgePercent) / 100),
        tasksFrom: `${scaling ? 'max' : 'desired'} ${count} × ${surgePercent} %`,
        pool,
      })
    }
    const budget = connectionBudget({
      demands,
      opsReserve,
      maxConnections,
      maxConnectionsFrom: configured !== undefined ? 'parameter group' : `default of ${instanceClass}`,
    })
    if (!budget.ok) reportViolation(`database connection budget exceeded: ${budget.arithmetic}`, database.urn)
  },
}
export const stackPolicies: StackValidationPolicy[] = [
  openIngressOnlyOnLoadBalancer,
  cacheNoEviction,
  databaseConnectionBudget,
]

export const policies: ResourceValidationPolicy[] = [
  databaseEncrypted,
  cacheEncrypted,
  bucketEncryptedWithKms,
  repositoryEncryptedWithKms,
  logsEncryptedWithKms,
  noPublicDatabase,
  noOpenIngress,
  listenerTls12,
  bucketPublicAccessBlocked,
  productionResilience,
  backupRetention,
  noSecretsInTaskEnvironment,
  rolesHaveBoundary,
]
