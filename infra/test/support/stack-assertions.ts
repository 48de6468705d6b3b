// The assertions every stack must satisfy, registered by each stack's own test file.
import { beforeAll, describe, expect, it } from 'vitest'
import { plainOutputs } from '../../../ci/src/aws/provisioner.js'
import { checkStackOutputs, parseStackOutputs } from '../../../ci/src/aws/stack-outputs.js'
import { databaseConnectionBudget, policies, stackPolicies } from '../../policy/policies.js'
import { alarmCount, estimate, PROGRAM_COUNTS } from '../../src/cost/model.js'
import { type InventoryItem, MOCK_ACCOUNT_ID, mockId } from '../../src/mock-runtime.js'
import { loadStackConfig } from '../../src/stack-file.js'
import { STACK_OUTPUT_NAMES, STACK_OUTPUTS } from '../../src/stack-outputs.js'
import { describeCiAccess } from './ci-access.js'
import { stackViolations, violations } from './policy-harness.js'
import { runStackProgram, type StackRun } from './stack-program.js'

export interface StackExpectations {
  natGateways: number
  databaseMultiAz: boolean
  minTasks: number
  maxTasks: number
  workerTasks: number
  protectedInProduction: boolean
  /** Staging runs the fake Graph API as an internal service for its synthetic tenant. */
  syntheticGraph: boolean
}

const T = {
  vpc: 'aws:ec2/vpc:Vpc',
  subnet: 'aws:ec2/subnet:Subnet',
  route: 'aws:ec2/route:Route',
  routeTable: 'aws:ec2/routeTable:RouteTable',
  association: 'aws:ec2/routeTableAssociation:RouteTableAssociation',
  nat: 'aws:ec2/natGateway:NatGateway',
  endpoint: 'aws:ec2/vpcEndpoint:VpcEndpoint',
  sg: 'aws:ec2/securityGroup:SecurityGroup',
  ingress: 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule',
  egress: 'aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule',
  rds: 'aws:rds/instance:Instance',
  rdsParams: 'aws:rds/parameterGroup:ParameterGroup',
  cache: 'aws:elasticache/replicationGroup:ReplicationGroup',
  service: 'aws:ecs/service:Service',
  taskDef: 'aws:ecs/taskDefinition:TaskDefinition',
  cluster: 'aws:ecs/cluster:Cluster',
  scalingTarget: 'aws:appautoscaling/target:Target',
  scalingPolicy: 'aws:appautoscaling/policy:Policy',
  targetGroup: 'aws:lb/targetGroup:TargetGroup',
  listener: 'aws:lb/listener:Listener',
  lifecycle: 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration',
  ecr: 'aws:ecr/repository:Repository',
  ecrLifecycle: 'aws:ecr/lifecyclePolicy:LifecyclePolicy',
  alarm: 'aws:cloudwatch/metricAlarm:MetricAlarm',
  budget: 'aws:budgets/budget:Budget',
  role: 'aws:iam/role:Role',
  rolePolicy: 'aws:iam/rolePolicy:RolePolicy',
  schedule: 'aws:scheduler/schedule:Schedule',
  key: 'aws:kms/key:Key',
  query: 'aws:cloudwatch/queryDefinition:QueryDefinition',
  dashboard: 'aws:cloudwatch/dashboard:Dashboard',
  anomalySubscription: 'aws:costexplorer/anomalySubscription:AnomalySubscription',
} as const

export function describeStack(stack: string, expected: StackExpectations): void {
  let run: StackRun
  const p = `whatsapp-saas-${stack}`
  /** Resource name by the id the mocks gave it (`<name>-id`, `subnet-…`, `sg-…`). */
  let nameById: Map<string, string>
  const nameOf = (id: unknown) => nameById.get(String(id)) ?? `?${String(id)}`

  beforeAll(async () => {
    run = await runStackProgram(stack)
    nameById = new Map(run.items.map((i: InventoryItem) => [mockId(i.type, i.name), i.name]))
  })

  describe(`${stack}: network`, () => {
    it('has the VPC and three tiers of subnets over two AZs with the documented CIDRs', () => {
      expect(run.one(T.vpc).inputs.cidrBlock).toBe('10.0.0.0/16')
      const subnets = Object.fromEntries(
        run
          .ofType(T.subnet)
          .map((s) => [s.name.replace(`${p}-`, ''), [s.inputs.cidrBlock, s.inputs.availabilityZone]]),
      )
      expect(subnets).toEqual({
        'public-1': ['10.0.1.0/24', 'us-east-1a'],
        'public-2': ['10.0.2.0/24', 'us-east-1b'],
        'private-1': ['10.0.11.0/24', 'us-east-1a'],
        'private-2': ['10.0.12.0/24', 'us-east-1b'],
        'database-1': ['10.0.21.0/24', 'us-east-1a'],
        'database-2': ['10.0.22.0/24', 'us-east-1b'],
      })
      for (const s of run.ofType(T.subnet)) expect(s.inputs.mapPublicIpOnLaunch).toBe(false)
    })

    it('gives the database subnets a route table without any route out of the VPC', () => {
      const databaseSubnetIds = run
        .ofType(T.subnet)
        .filter((s) => s.name.includes('-database-'))
        .map((s) => mockId(T.subnet, s.name))
      const tables = run
        .ofType(T.association)
        .filter((a) => databaseSubnetIds.includes(String(a.inputs.subnetId)))
        .map((a) => String(a.inputs.routeTableId))
      expect(tables).toHaveLength(2)
      expect(new Set(tables)).toEqual(new Set([`${p}-database-rt-id`]))
      expect(run.ofType(T.route).filter((r) => tables.includes(String(r.inputs.routeTableId)))).toEqual([])
      expect(run.one(T.routeTable, 'database-rt').inputs.routes).toBeUndefined()
      // Nor may an endpoint attach to it.
      for (const e of run.ofType(T.endpoint))
        expect(e.inputs.routeTableIds ?? []).not.toContain(`${p}-database-rt-id`)
    })

    it(`routes private subnets through ${expected.natGateways} NAT gateway(s) and public ones through the IGW`, () => {
      expect(run.ofType(T.nat)).toHaveLength(expected.natGateways)
      const privateDefaults = run.ofType(T.route).filter((r) => r.name.includes('private-default'))
      expect(privateDefaults).toHaveLength(2)
      for (const route of privateDefaults) {
        expect(route.inputs.destinationCidrBlock).toBe('0.0.0.0/0')
        expect(nameOf(route.inputs.natGatewayId)).toMatch(new RegExp(`^${p}-nat-\\d$`))
      }
      const natsUsed = new Set(privateDefaults.map((r) => r.inputs.natGatewayId))
      expect(natsUsed.size).toBe(expected.natGateways)
      const publicDefault = run.one(T.route, 'public-default')
      expect(nameOf(publicDefault.inputs.gatewayId)).toBe(`${p}-igw`)
      const s3 = run.one(T.endpoint, 's3-endpoint')
      expect(s3.inputs.vpcEndpointType).toBe('Gateway')
    })

    it('opens exactly the listed security-group rules', () => {
      const describeRule = (r: InventoryItem) =>
        `${nameOf(r.inputs.securityGroupId).replace(`${p}-`, '').replace('-sg', '')} ${r.inputs.ipProtocol}/${r.inputs.fromPort}-${r.inputs.toPort} ${
          r.inputs.cidrIpv4 ??
          nameOf(r.inputs.referencedSecurityGroupId).replace(`${p}-`, '').replace('-sg', '')
        }`
      const fake = expected.syntheticGraph
      expect(run.ofType(T.ingress).map(describeRule).sort()).toEqual([
        'alb tcp/443-443 0.0.0.0/0',
        'alb tcp/80-80 0.0.0.0/0',
        'cache tcp/6379-6379 tasks',
        'database tcp/5432-5432 tasks',
        ...(fake ? ['fake-graph tcp/4004-4004 tasks'] : []),
        'tasks tcp/3000-3000 alb',
      ])
      expect(run.ofType(T.egress).map(describeRule).sort()).toEqual(
        [
          'alb tcp/3000-3000 tasks',
          ...(fake ? ['fake-graph tcp/443-443 0.0.0.0/0'] : []),
          'tasks tcp/443-443 0.0.0.0/0',
          'tasks tcp/5432-5432 database',
          'tasks tcp/6379-6379 cache',
          ...(fake ? ['tasks tcp/4004-4004 fake-graph'] : []),
        ].sort(),
      )
      for (const sg of run.ofType(T.sg)) {
        expect(sg.inputs.ingress).toBeUndefined()
        expect(sg.inputs.egress).toBeUndefined()
      }
    })
  })

  describe(`${stack}: data stores`, () => {
    it('runs an encrypted, private, deletion-protected PostgreSQL with 7-day backups', () => {
      const db = run.one(T.rds).inputs
      expect(db).toMatchObject({
        engine: 'postgres',
        engineVersion: '15',
        multiAz: expected.databaseMultiAz,
        storageEncrypted: true,
        kmsKeyId: expect.stringContaining(':kms:'),
        publiclyAccessible: false,
        deletionProtection: true,
        backupRetentionPeriod: 7,
        performanceInsightsEnabled: true,
        skipFinalSnapshot: false,
      })
      const params = Object.fromEntries(
        (run.one(T.rdsParams).inputs.parameters as { name: string; value: string }[]).map((x) => [
          x.name,
          x.value,
        ]),
      )
      expect(params).toMatchObject({
        max_connections: '150',
        shared_preload_libraries: 'pg_stat_statements',
        'rds.force_ssl': '1',
      })
      expect(run.one(T.rdsParams).inputs.family).toBe('postgres15')
    })

    it('runs a two-node Multi-AZ cache with failover, encryption and 7 daily snapshots at 02:00 UTC', () => {
      expect(run.one(T.cache).inputs).toMatchObject({
        numCacheClusters: 2,
        automaticFailoverEnabled: true,
        multiAzEnabled: true,
        atRestEncryptionEnabled: true,
        transitEncryptionEnabled: true,
        kmsKeyId: expect.stringContaining(':kms:'),
        authToken: '[secret]',
        snapshotWindow: '02:00-03:00',
        snapshotRetentionLimit: 7,
      })
    })

    it('keeps BullMQ keys: the cache uses its own redis7 parameter group with noeviction', () => {
      const group = run.one('aws:elasticache/parameterGroup:ParameterGroup').inputs
      expect(group.family).toBe('redis7')
      expect(group.parameters).toEqual([{ name: 'maxmemory-policy', value: 'noeviction' }])
      expect(run.one(T.cache).inputs.parameterGroupName).toBe(group.name)
    })

    it('expires backups (uploaded as STANDARD_IA) after 30 days plus 30 as noncurrent versions, no transition', () => {
      const rule = (run.one(T.lifecycle).inputs.rules as Record<string, unknown>[])[0]!
      expect(rule.status).toBe('Enabled')
      expect(rule.expiration).toEqual({ days: 30 })
      // A transition cannot happen before day 30: with a 30-day expiry it never did. Dumps are IA from upload.
      expect(rule.transitions).toBeUndefined()
      expect(rule.noncurrentVersionTransitions).toBeUndefined()
      expect(rule.noncurrentVersionExpiration).toEqual({ noncurrentDays: 30 })
    })

    it('shares one image repository: the owner stack creates it, the others reference it by name', () => {
      const url = `${MOCK_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/whatsapp-saas-staging-api`
      expect(run.outputs.ecrRepositoryUrl).toBe(url)
      expect(run.outputs.imageRepositoryOwner).toBe('staging')
      expect(run.outputs.releaseEvidenceBucket).toBe(`whatsapp-saas-staging-backups-${MOCK_ACCOUNT_ID}`)
      const execution = run.ofType(T.rolePolicy).find((r) => r.name.endsWith('task-execution-policy'))!
      const pull = (
        JSON.parse(String(execution.inputs.policy)).Statement as { Sid: string; Resource: string }[]
      ).find((statement) => statement.Sid === 'PullImage')
      // Production names it (a real ARN); staging passes its resource's ARN (shaped by the mocks).
      expect(pull?.Resource).toMatch(
        /^arn:aws:ecr:us-east-1:123456789012:(repository\/)?whatsapp-saas-staging-api$/,
      )
      if (stack !== 'staging') {
        expect(run.ofType(T.ecr)).toEqual([])
        return
      }
      const ecr = run.one(T.ecr).inputs
      // Version tags are immutable; only the pipeline's position tags move.
      expect(ecr.imageTagMutability).toBe('IMMUTABLE_WITH_EXCLUSION')
      expect(ecr.imageTagMutabilityExclusionFilters).toEqual([
        { filter: '*-current', filterType: 'WILDCARD' },
        { filter: '*-previous', filterType: 'WILDCARD' },
      ])
      expect(ecr.imageScanningConfiguration).toEqual({ scanOnPush: true })
      const ecrRules = JSON.parse(String(run.one(T.ecrLifecycle).inputs.policy)).rules as {
        rulePriority: number
        selection: { tagStatus: string; tagPatternList?: string[]; countNumber: number }
      }[]
      // The protected tags come first: an image a higher-priority rule selects is never expired by a lower one.
      expect(
        ecrRules.map((r) => [r.rulePriority, r.selection.tagStatus, r.selection.tagPatternList]),
      ).toEqual([
        [1, 'tagged', ['*-current']],
        [2, 'tagged', ['*-previous']],
        [10, 'untagged', undefined],
        [20, 'any', undefined],
      ])
      expect(ecrRules[0]!.selection.countNumber).toBeGreaterThanOrEqual(10_000)
    })

    it('rotates every KMS key', () => {
      expect(run.ofType(T.key)).toHaveLength(3)
      for (const key of run.ofType(T.key)) expect(key.inputs.enableKeyRotation).toBe(true)
    })
  })

  describe(`${stack}: compute and load balancing`, () => {
    it('enables Container Insights', () => {
      expect(run.one(T.cluster).inputs.settings).toEqual([{ name: 'containerInsights', value: 'enabled' }])
    })

    it('rolls services out with a circuit breaker, 100/200 % and a health-check grace period', () => {
      const services = run.ofType(T.service)
      expect(services.map((s) => s.inputs.name).sort()).toEqual([
        `${p}-api`,
        ...(expected.syntheticGraph ? [`${p}-fake-graph`] : []),
        `${p}-worker`,
      ])
      for (const s of services.filter((service) => !String(service.inputs.name).endsWith('fake-graph'))) {
        expect(s.inputs).toMatchObject({
          deploymentCircuitBreaker: { enable: true, rollback: true },
          deploymentMinimumHealthyPercent: 100,
          deploymentMaximumPercent: 200,
          launchType: 'FARGATE',
        })
        expect((s.inputs.networkConfiguration as { assignPublicIp: boolean }).assignPublicIp).toBe(false)
      }
      const api = run.one(T.service, 'api-service').inputs
      expect(api.desiredCount).toBe(2)
      expect(api.healthCheckGracePeriodSeconds).toBe(60)
      expect(run.one(T.service, 'worker-service').inputs.desiredCount).toBe(expected.workerTasks)
    })

    it(`autoscales the API between ${expected.minTasks} and ${expected.maxTasks} on CPU and requests per target`, () => {
      expect(run.one(T.scalingTarget).inputs).toMatchObject({
        minCapacity: expected.minTasks,
        maxCapacity: expected.maxTasks,
        scalableDimension: 'ecs:service:DesiredCount',
        resourceId: `service/${p}/${p}-api`,
      })
      const metrics = run.ofType(T.scalingPolicy).map((x) => {
        const c = x.inputs.targetTrackingScalingPolicyConfiguration as {
          predefinedMetricSpecification: { predefinedMetricType: string; resourceLabel?: string }
        }
        return c.predefinedMetricSpecification
      })
      expect(metrics.map((m) => m.predefinedMetricType).sort()).toEqual([
        'ALBRequestCountPerTarget',
        'ECSServiceAverageCPUUtilization',
      ])
      expect(metrics.find((m) => m.resourceLabel)?.resourceLabel).toMatch(/^app\/.+\/targetgroup\/.+$/)
    })

    it('exports its task definition revisions and sets the synthetic Graph URL only where the fake runs', () => {
      expect(String(run.outputs.apiTaskDefinitionArn)).toMatch(new RegExp(`^arn:aws:ecs:.*${p}-api`))
      expect(String(run.outputs.workerTaskDefinitionArn)).toMatch(new RegExp(`^arn:aws:ecs:.*${p}-worker`))
      const url = `http://fake-graph.${p}.internal:4004`
      expect(run.outputs.syntheticGraphApiBaseUrl).toBe(expected.syntheticGraph ? url : '')
      for (const family of [`${p}-api`, `${p}-worker`]) {
        const def = run.ofType(T.taskDef).find((d) => d.inputs.family === family)!
        const [container] = JSON.parse(String(def.inputs.containerDefinitions)) as {
          environment: { name: string; value: string }[]
        }[]
        const synthetic = container!.environment.find((e) => e.name === 'SYNTHETIC_GRAPH_API_BASE_URL')
        expect(synthetic?.value).toBe(expected.syntheticGraph ? url : undefined)
      }
    })

    it('injects secrets from Secrets Manager, never as plain environment values', () => {
      const isFake = (def: InventoryItem) => String(def.inputs.family).endsWith('fake-graph')
      for (const def of run.ofType(T.taskDef)) {
        const [container] = JSON.parse(String(def.inputs.containerDefinitions)) as {
          environment: { name: string; value: string }[]
          secrets: { name: string; valueFrom: string }[]
          stopTimeout: number
          command: string[]
        }[]
        const env = container!.environment
        for (const { name, value } of env) {
          expect(name).not.toMatch(/PASSWORD|TOKEN|SECRET|DATABASE_URL|REDIS_URL/)
          expect(value).not.toMatch(/postgres(ql)?:\/\/|rediss?:\/\/|\[secret\]|mock-/)
        }
        expect(container!.secrets.map((s) => s.name).sort()).toEqual(
          isFake(def)
            ? ['META_APP_SECRET']
            : [
                'ADMIN_TOKEN',
                'DATABASE_URL',
                'ENCRYPTION_KEY',
                'META_APP_SECRET',
                'META_VERIFY_TOKEN',
                'REDIS_URL',
              ],
        )
        for (const s of container!.secrets) expect(s.valueFrom).toMatch(/^arn:aws:secretsmanager:/)
        expect(container!.stopTimeout).toBe(30)
        expect(def.inputs.runtimePlatform).toEqual({
          operatingSystemFamily: 'LINUX',
          cpuArchitecture: 'X86_64',
        })
      }
      const commands = run
        .ofType(T.taskDef)
        .map((d) => JSON.parse(String(d.inputs.containerDefinitions))[0].command.join(' '))
      expect(commands.sort()).toEqual(
        [
          ...(expected.syntheticGraph ? ['node dist/fake-graph/main.js'] : []),
          'node --max-old-space-size=128 dist/worker.js',
          'node dist/server.js',
        ].sort(),
      )
    })

    it('gives the API and the worker their budgeted pool size as DATABASE_POOL_MAX', () => {
      const poolOf = (family: string) => {
        const def = run.ofType(T.taskDef).find((d) => d.inputs.family === `${p}-${family}`)!
        const [container] = JSON.parse(String(def.inputs.containerDefinitions)) as {
          environment: { name: string; value: string }[]
        }[]
        return container!.environment.filter((e) => e.name === 'DATABASE_POOL_MAX').map((e) => e.value)
      }
      const config = loadStackConfig(stack)
      expect(poolOf('api')).toEqual([String(config.service.databasePoolMax)])
      expect(poolOf('worker')).toEqual([String(config.worker.databasePoolMax)])
      const group = run.one(T.rdsParams).inputs.tags as Record<string, string>
      expect(group.OpsReserveConnections).toBe(String(config.database.opsReserveConnections))
    })

    it('checks /health, drains for 30 s, serves TLS 1.2+ and redirects HTTP', () => {
      const tg = run.one(T.targetGroup).inputs
      expect(tg.deregistrationDelay).toBe(30)
      expect(tg.targetType).toBe('ip')
      expect((tg.healthCheck as { path: string }).path).toBe('/health')
      const https = run.one(T.listener, 'https').inputs
      expect(https).toMatchObject({
        port: 443,
        protocol: 'HTTPS',
        sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      })
      expect(https.certificateArn).toMatch(/^arn:aws:acm:/)
      const http = run.one(T.listener, 'http-redirect').inputs
      expect(http.defaultActions).toEqual([
        { type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } },
      ])
    })

    it('runs the backup command, verified, daily at 02:00 UTC through EventBridge Scheduler', () => {
      const schedule = run.one(T.schedule).inputs as {
        scheduleExpression: string
        scheduleExpressionTimezone: string
        target: {
          input: string
          ecsParameters: { taskDefinitionArn: string; launchType: string; group: string }
        }
      }
      expect(schedule.scheduleExpression).toBe('cron(0 2 * * ? *)')
      expect(schedule.scheduleExpressionTimezone).toBe('UTC')
      expect(JSON.parse(schedule.target.input)).toEqual({
        containerOverrides: [{ name: 'api', command: ['node', 'dist/ops/main.js', 'backup', '--verify'] }],
      })
      expect(schedule.target.ecsParameters.group).toBe(`${p}-scheduled-backup`)
      expect(schedule.target.ecsParameters.taskDefinitionArn).toMatch(
        new RegExp(`:task-definition/${p}-api$`),
      )
    })
  })

  describeCiAccess(stack, () => run)

  describe(`${stack}: access`, () => {
    it('limits the execution role to its secrets and log group, the task role to the backup bucket', () => {
      const policyOf = (suffix: string) =>
        JSON.parse(String(run.one(T.rolePolicy, suffix).inputs.policy)) as {
          Statement: { Action: string | string[]; Resource: string | string[] }[]
        }
      const execution = policyOf('task-execution-policy').Statement
      const secretResources = execution.find((s) => s.Action === 'secretsmanager:GetSecretValue')!
        .Resource as string[]
      expect(secretResources).toHaveLength(5)
      for (const arn of secretResources)
        expect(arn).toMatch(
          /^arn:aws:secretsmanager:.*-(database|redis|admin-token|meta|encryption-key)-secret$/,
        )
      const logs = execution.find((s) => Array.isArray(s.Action) && s.Action.includes('logs:PutLogEvents'))!
      expect(logs.Resource).toBe(`arn:aws:logs:us-east-1:123456789012:log-group:/ecs/${p}:*`)
      // Only ecr:GetAuthorizationToken may use '*' (it has no resource-level permissions).
      expect(execution.filter((s) => s.Resource === '*').map((s) => s.Action)).toEqual([
        'ecr:GetAuthorizationToken',
      ])
      const task = policyOf(`${p}-task-policy`).Statement
      for (const s of task) expect(String(s.Resource)).toMatch(/backups|backup-key/)
    })

    it('lets the deploy role write only to its own stack; "*" is for reads (and task-definition registration)', () => {
      const statements = (
        JSON.parse(String(run.one(T.rolePolicy, 'github-deploy-policy').inputs.policy)) as {
          Statement: { Action: string | string[]; Resource: string | string[] }[]
        }
      ).Statement
      const wildcardActions = statements.filter((s) => s.Resource === '*').flatMap((s) => [s.Action].flat())
      for (const action of wildcardActions) {
        expect(action).toMatch(/^[a-z0-9-]+:(Describe|Get|List|View)|^ecs:RegisterTaskDefinition$/)
      }
      for (const s of statements.filter((x) => x.Resource !== '*')) {
        for (const resource of [s.Resource].flat())
          expect(resource).toMatch(new RegExp(`${p}|arn:aws:(ecr|ecs|iam|logs|kms|s3|rds):`))
      }
      const lock = statements.find((s) => [s.Action].flat().includes('s3:PutObject'))!
      expect(lock.Resource).toMatch(/-backups\/locks\/\*$/)
    })

    it('lets the deploy role list the tasks of its own cluster only: "*" with an ecs:cluster condition', () => {
      const statements = (
        JSON.parse(String(run.one(T.rolePolicy, 'github-deploy-policy').inputs.policy)) as {
          Statement: { Action: string | string[]; Resource: string | string[]; Condition?: unknown }[]
        }
      ).Statement
      const listing = statements.filter((s) => [s.Action].flat().includes('ecs:ListTasks'))
      expect(listing).toHaveLength(1)
      expect(listing[0]!.Resource).toBe('*')
      expect(listing[0]!.Condition).toEqual({
        ArnEquals: { 'ecs:cluster': `arn:aws:ecs:us-east-1:123456789012:${p}-cluster` },
      })
    })

    it('pins the GitHub deploy role to the repository and the environment named like the stack', () => {
      const trust = JSON.parse(String(run.one(T.role, 'github-deploy-role').inputs.assumeRolePolicy))
      expect(trust.Statement[0].Action).toBe('sts:AssumeRoleWithWebIdentity')
      expect(trust.Statement[0].Condition.StringEquals).toEqual({
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': `repo:example-org/whatsapp-saas:environment:${stack}`,
      })
    })
  })

  describe(`${stack}: monitoring and cost`, () => {
    it('raises the listed alarms at their thresholds, all to the SNS topic', () => {
      const alarms = Object.fromEntries(
        run
          .ofType(T.alarm)
          .map((a) => [
            String(a.inputs.name).replace(`${p}-`, ''),
            [a.inputs.comparisonOperator, a.inputs.threshold, a.inputs.metricName ?? 'math'],
          ]),
      )
      expect(alarms).toEqual({
        'rds-cpu-high': ['GreaterThanThreshold', 80, 'CPUUtilization'],
        'rds-connections-high': ['GreaterThanThreshold', 120, 'DatabaseConnections'],
        'redis-memory-high-1': ['GreaterThanThreshold', 90, 'DatabaseMemoryUsagePercentage'],
        'redis-memory-high-2': ['GreaterThanThreshold', 90, 'DatabaseMemoryUsagePercentage'],
        'alb-5xx-high': ['GreaterThanThreshold', 10, 'math'],
        'ecs-api-running-tasks-low': ['LessThanThreshold', 2, 'RunningTaskCount'],
        'ecs-worker-running-tasks-low': ['LessThanThreshold', expected.workerTasks, 'RunningTaskCount'],
        'alb-unhealthy-targets': ['GreaterThanThreshold', 0, 'UnHealthyHostCount'],
        'backup-schedule-dropped': ['GreaterThanThreshold', 0, 'InvocationDroppedCount'],
      })
      const cpu = run.ofType(T.alarm).find((a) => String(a.inputs.name).endsWith('rds-cpu-high'))!.inputs
      expect(Number(cpu.period) * Number(cpu.evaluationPeriods)).toBe(600)
      for (const a of run.ofType(T.alarm)) {
        expect(a.inputs.alarmActions).toEqual([`arn:aws:sns:us-east-1:123456789012:${p}-alerts`])
      }
    })

    it('alerts on SNS when the scheduled backup or its verification fails, or the task never starts', () => {
      const rule = run.one('aws:cloudwatch/eventRule:EventRule', 'backup-failed').inputs
      const pattern = JSON.parse(String(rule.eventPattern))
      expect(pattern).toEqual({
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: {
          clusterArn: [`arn:aws:ecs:us-east-1:123456789012:${p}-cluster`],
          group: [`${p}-scheduled-backup`],
          lastStatus: ['STOPPED'],
          $or: [
            { containers: { name: ['api'], exitCode: [{ 'anything-but': 0 }] } },
            { stopCode: ['TaskFailedToStart'] },
          ],
        },
      })
      const topicArn = `arn:aws:sns:us-east-1:123456789012:${p}-alerts`
      const target = run.one('aws:cloudwatch/eventTarget:EventTarget', 'backup-failed-alert').inputs
      expect(target.arn).toBe(topicArn)
      expect(target.rule).toBe(`${p}-backup-failed`)
      const policy = JSON.parse(String(run.one('aws:sns/topicPolicy:TopicPolicy').inputs.policy))
      const events = policy.Statement.find((s: { Sid: string }) => s.Sid === 'BackupFailureRule')
      expect(events).toMatchObject({
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: topicArn,
        Condition: {
          ArnEquals: { 'aws:SourceArn': `arn:aws:cloudwatch:us-east-1:123456789012:${p}-backup-failed` },
        },
      })
    })

    it('has the main and cost dashboards and the three saved log queries', () => {
      expect(
        run
          .ofType(T.dashboard)
          .map((d) => d.inputs.dashboardName)
          .sort(),
      ).toEqual([`${p}-cost`, `${p}-main`])
      expect(
        run
          .ofType(T.query)
          .map((q) => q.inputs.name)
          .sort(),
      ).toEqual([`${p}/connection-pool-errors`, `${p}/errors`, `${p}/slow-requests`])
      const slow = run.ofType(T.query).find((q) => String(q.inputs.name).endsWith('slow-requests'))!
      expect(slow.inputs.queryString).toContain('responseTime > 1000')
    })

    it('alerts on the monthly budget at 50, 80 and 100 % and on cost anomalies', () => {
      const budget = run.one(T.budget).inputs as {
        timeUnit: string
        notifications: { threshold: number; notificationType: string }[]
      }
      expect(budget.timeUnit).toBe('MONTHLY')
      expect(
        budget.notifications.filter((n) => n.notificationType === 'ACTUAL').map((n) => n.threshold),
      ).toEqual([50, 80, 100])
      // One SERVICE monitor per account and new accounts already have one: none is created by default.
      expect(run.ofType('aws:costexplorer/anomalyMonitor:AnomalyMonitor')).toEqual([])
      expect(run.ofType(T.anomalySubscription)).toEqual([])
    })

    it('can be destroyed and created again: prefixed secret names, a final snapshot per stack lifetime', () => {
      for (const secret of run.ofType('aws:secretsmanager/secret:Secret')) {
        expect(secret.inputs.name).toBeUndefined()
        expect(secret.inputs.namePrefix).toMatch(new RegExp(`^whatsapp-saas/${stack}/[a-z-]+-$`))
        expect(secret.inputs.recoveryWindowInDays).toBe(expected.protectedInProduction ? 30 : 7)
      }
      expect(run.one(T.rds).inputs.finalSnapshotIdentifier).toMatch(
        new RegExp(`^${p}-postgres-final-[0-9a-f]{8}$`),
      )
      expect(run.one('random:index/randomId:RandomId', 'final-snapshot-suffix').inputs.byteLength).toBe(4)
    })

    it("creates ECS's service-linked role before the services only in the stack that owns the account's", () => {
      // Staging and production share one account: staging creates the role, production finds it.
      const roles = run.ofType('aws:iam/serviceLinkedRole:ServiceLinkedRole')
      if (stack === 'staging') {
        expect(roles.map((role) => role.inputs.awsServiceName)).toEqual(['ecs.amazonaws.com'])
      } else {
        expect(roles).toEqual([])
      }
    })
  })

  describe(`${stack}: cost model agrees with the program`, () => {
    it('counts the same keys, secrets, dashboards, alarms and NAT gateways the program creates', () => {
      const config = loadStackConfig(stack)
      expect(run.ofType(T.key)).toHaveLength(PROGRAM_COUNTS.kmsKeys)
      expect(run.ofType('aws:secretsmanager/secret:Secret')).toHaveLength(PROGRAM_COUNTS.secrets)
      expect(run.ofType(T.dashboard)).toHaveLength(PROGRAM_COUNTS.dashboards)
      expect(run.ofType(T.alarm)).toHaveLength(alarmCount(config))
      const natHours = estimate(config).items.find((i) => i.item.startsWith('NAT gateway ×'))?.quantity ?? 0
      expect(natHours / 730).toBe(run.ofType(T.nat).length)
    })
  })

  describe(`${stack}: policy pack`, () => {
    it('passes every resource and stack policy with zero violations', async () => {
      const found: string[] = []
      for (const item of run.items) {
        for (const policy of policies) {
          for (const message of await violations(policy, item.type, item.inputs, item.name))
            found.push(`${policy.name}: ${message}`)
        }
      }
      for (const policy of stackPolicies) {
        for (const message of await stackViolations(policy, run.items))
          found.push(`${policy.name}: ${message}`)
      }
      expect(found).toEqual([])
      expect(run.items.length).toBeGreaterThan(90)
    })

    it('budgets the connections of the services it runs (API at its autoscaling maximum, worker)', async () => {
      const squeezed = run.items.map((item) =>
        item.type === T.rdsParams
          ? { ...item, inputs: { ...item.inputs, parameters: [{ name: 'max_connections', value: '20' }] } }
          : item,
      )
      const [message] = await stackViolations(databaseConnectionBudget, squeezed)
      const config = loadStackConfig(stack)
      expect(message).toContain(
        `${p}-api ${2 * expected.maxTasks} tasks (max ${expected.maxTasks} × 200 %) × pool ${config.service.databasePoolMax}`,
      )
      expect(message).toContain(
        `${p}-worker ${2 * expected.workerTasks} tasks (desired ${expected.workerTasks} × 200 %)`,
      )
      expect(message).toContain(`ops reserve ${config.database.opsReserveConnections}`)
    })
  })

  describe(`${stack}: outputs`, () => {
    it('exports exactly the outputs of the one list, each one the pipeline reads in a form it accepts', () => {
      expect(Object.keys(run.outputs).sort()).toEqual([...STACK_OUTPUT_NAMES].sort())
      for (const key of STACK_OUTPUT_NAMES) {
        if (!('optional' in STACK_OUTPUTS[key])) expect(run.outputs[key], key).toBeTruthy()
      }
      // As the pipeline receives them: through the Automation API, secrets left out, values as strings.
      const received = plainOutputs(
        Object.fromEntries(
          Object.entries(run.outputs).map(([key, value]) => [key, { value, secret: false }]),
        ),
      )
      expect(checkStackOutputs(received)).toEqual([])
      expect(parseStackOutputs(received).databaseMaxConnections).toBe(
        loadStackConfig(stack).database.maxConnections,
      )
      expect(run.outputs.backupStore).toBe(`s3://${String(run.outputs.backupBucket)}/backups`)
    })

    it('exports nothing secret', () => {
      expect(run.outputs.url).toMatch(/^https:\/\//)
      expect(run.outputs.taskFamily).toBe(`${p}-api`)
      expect(run.outputs.databaseMaxConnections).toBe(loadStackConfig(stack).database.maxConnections)
      expect(JSON.stringify(run.outputs)).not.toMatch(/mock-|postgresql:\/\//)
    })

    it(`${expected.protectedInProduction ? 'protects' : 'does not protect'} stateful resources and sets the ALB deletion flag accordingly`, () => {
      const alb = run.one('aws:lb/loadBalancer:LoadBalancer').inputs
      expect(alb.enableDeletionProtection).toBe(expected.protectedInProduction)
    })
  })
}
