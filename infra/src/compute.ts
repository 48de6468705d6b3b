// ECS on Fargate: one cluster, the API service behind the ALB and the queue worker as its own
// service, both from the same image. Pulumi owns the task definitions (environment, secrets, CPU,
// memory, and the image from the stack's `service.image`, which the pipeline's provision stage sets to
// the digest it deploys); the pipeline owns which revision a service runs: it takes Pulumi's revision
// (outputs apiTaskDefinitionArn / workerTaskDefinitionArn) and follows the deployment. So Pulumi ignores
// the services' taskDefinition, and desiredCount (which belongs to autoscaling).
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { API_COMMAND, WORKER_COMMAND } from './commands.js'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'
import { DEPLOYMENT_MAXIMUM_PERCENT, POOL_SIZE_VARIABLE } from './connection-budget.js'
import type { AppSecrets } from './secrets.js'

export const API_CONTAINER = 'api'
export const WORKER_CONTAINER = 'worker'
export { API_COMMAND, OPS_COMMAND_PREFIX, WORKER_COMMAND } from './commands.js'
export const STOP_TIMEOUT_SECONDS = 30

export interface Compute {
  cluster: aws.ecs.Cluster
  logGroup: aws.cloudwatch.LogGroup
  apiTaskDefinition: aws.ecs.TaskDefinition
  workerTaskDefinition: aws.ecs.TaskDefinition
  apiService: aws.ecs.Service
  workerService: aws.ecs.Service
  apiFamily: string
  workerFamily: string
  taskSubnetIds: pulumi.Input<string>[]
  assignPublicIp: boolean
}

/** Environment variable → Secrets Manager reference (`<arn>:<json key>::` picks one JSON field). */
export function containerSecrets(secrets: AppSecrets): { name: string; valueFrom: pulumi.Output<string> }[] {
  const field = (secret: aws.secretsmanager.Secret, key: string) => pulumi.interpolate`${secret.arn}:${key}::`
  return [
    { name: 'DATABASE_URL', valueFrom: field(secrets.database, 'url') },
    { name: 'REDIS_URL', valueFrom: field(secrets.redis, 'url') },
    { name: 'ADMIN_TOKEN', valueFrom: secrets.adminToken.arn },
    { name: 'META_APP_SECRET', valueFrom: field(secrets.meta, 'appSecret') },
    { name: 'META_VERIFY_TOKEN', valueFrom: field(secrets.meta, 'verifyToken') },
    { name: 'ENCRYPTION_KEY', valueFrom: secrets.encryptionKey.arn },
  ]
}

export function createCompute(
  config: StackConfig,
  args: {
    image: pulumi.Input<string>
    secrets: AppSecrets
    logsKeyArn: pulumi.Input<string>
    executionRoleArn: pulumi.Input<string>
    taskRoleArn: pulumi.Input<string>
    backupBucketName: pulumi.Input<string>
    /** BACKUP_STORE of the ops commands (the stack output `backupStore`). */
    backupStore: pulumi.Input<string>
    backupKeyArn: pulumi.Input<string>
    privateSubnetIds: pulumi.Input<string>[]
    publicSubnetIds: pulumi.Input<string>[]
    taskSecurityGroupId: pulumi.Input<string>
    targetGroupArn: pulumi.Input<string>
    /** Listener the service waits for: a target group must be attached to an ALB before ECS uses it. */
    listener: aws.lb.Listener
    /** ECS's service-linked role when the stack creates it: services wait for it (fresh accounts). */
    serviceLinkedRole?: pulumi.Resource
    /** Extra plain environment of the API and worker (e.g. staging's SYNTHETIC_GRAPH_API_BASE_URL). */
    environment?: { name: string; value: string }[]
  },
): Compute {
  const concern = new Concern('Compute', config)
  const p = config.namePrefix
  const tags = config.tags
  const svc = config.service

  const logGroup = new aws.cloudwatch.LogGroup(
    `${p}-logs`,
    {
      name: `/ecs/${p}`,
      retentionInDays: config.logRetentionDays,
      kmsKeyId: args.logsKeyArn,
      tags,
    },
    concern.child(),
  )
  const cluster = new aws.ecs.Cluster(
    `${p}-cluster`,
    {
      name: p,
      settings: [{ name: 'containerInsights', value: 'enabled' }],
      tags,
    },
    concern.child(),
  )

  const environment = [
    { name: 'NODE_ENV', value: 'production' },
    { name: 'HOST', value: '0.0.0.0' },
    { name: 'PORT', value: String(svc.containerPort) },
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'AWS_REGION', value: config.region },
    { name: 'DEPLOY_ENV', value: config.stack },
    { name: 'PUBLIC_URL', value: `https://${config.domain}` },
    { name: 'BACKUP_BUCKET', value: args.backupBucketName },
    // The ops commands (backup, verify-backup, restore, migrate) read their store from here; the pipeline's
    // one-off ops tasks get the same value from the stack output `backupStore`.
    { name: 'BACKUP_STORE', value: args.backupStore },
    { name: 'BACKUP_KMS_KEY_ID', value: args.backupKeyArn },
    ...(args.environment ?? []),
  ]
  const secrets = containerSecrets(args.secrets)
  const logging = (prefix: string) => ({
    logDriver: 'awslogs',
    options: {
      'awslogs-group': logGroup.name,
      'awslogs-region': config.region,
      'awslogs-stream-prefix': prefix,
    },
  })

  const taskDefinition = (
    family: string,
    cpu: number,
    memoryMiB: number,
    container: Record<string, unknown> & { name: string },
  ) =>
    new aws.ecs.TaskDefinition(
      `${family}-taskdef`,
      {
        family,
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: String(cpu),
        memory: String(memoryMiB),
        runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: svc.architecture },
        executionRoleArn: args.executionRoleArn,
        taskRoleArn: args.taskRoleArn,
        // A new image or setting replaces the revision; the old one stays ACTIVE: it is what a rollback to the
        // previous version returns to (the pipeline deregisters the revisions a rollback abandons).
        skipDestroy: true,
        containerDefinitions: pulumi.jsonStringify([
          {
            image: args.image,
            essential: true,
            environment,
            secrets,
            logConfiguration: logging(container.name),
            stopTimeout: STOP_TIMEOUT_SECONDS,
            linuxParameters: { initProcessEnabled: true },
            ...container,
          },
        ]),
        tags,
      },
      concern.child(),
    )

  const apiFamily = `${p}-api`
  const workerFamily = `${p}-worker`
  const apiTaskDefinition = taskDefinition(apiFamily, svc.cpu, svc.memoryMiB, {
    name: API_CONTAINER,
    command: API_COMMAND,
    // Budgeted against max_connections (config.ts connection budget).
    environment: [...environment, { name: POOL_SIZE_VARIABLE, value: String(svc.databasePoolMax) }],
    portMappings: [{ containerPort: svc.containerPort, protocol: 'tcp', name: 'http' }],
    // The image has node but no curl; /health/live checks the process only (the ALB checks dependencies).
    healthCheck: {
      command: [
        'CMD',
        'node',
        '-e',
        `fetch('http://127.0.0.1:${svc.containerPort}/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
      ],
      interval: 15,
      timeout: 5,
      retries: 3,
      startPeriod: 20,
    },
  })
  const workerTaskDefinition = taskDefinition(workerFamily, config.worker.cpu, config.worker.memoryMiB, {
    name: WORKER_CONTAINER,
    command: WORKER_COMMAND,
    environment: [...environment, { name: POOL_SIZE_VARIABLE, value: String(config.worker.databasePoolMax) }],
  })

  const assignPublicIp = config.network.egressMode === 'public-task-ips'
  const taskSubnetIds = assignPublicIp ? args.publicSubnetIds : args.privateSubnetIds
  const networkConfiguration = {
    subnets: taskSubnetIds,
    securityGroups: [args.taskSecurityGroupId],
    assignPublicIp,
  }
  const rolloutSettings = {
    cluster: cluster.arn,
    launchType: 'FARGATE',
    platformVersion: 'LATEST',
    networkConfiguration,
    deploymentCircuitBreaker: { enable: true, rollback: true },
    deploymentMinimumHealthyPercent: 100,
    deploymentMaximumPercent: DEPLOYMENT_MAXIMUM_PERCENT,
    propagateTags: 'SERVICE',
    enableEcsManagedTags: true,
    waitForSteadyState: false,
    tags,
  }
  const ownedByPipeline = { ignoreChanges: ['taskDefinition', 'desiredCount'] }
  const linkedRole = args.serviceLinkedRole ? [args.serviceLinkedRole] : []

  const apiService = new aws.ecs.Service(
    `${p}-api-service`,
    {
      name: `${p}-api`,
      ...rolloutSettings,
      taskDefinition: apiTaskDefinition.arn,
      desiredCount: svc.desiredCount,
      healthCheckGracePeriodSeconds: 60,
      loadBalancers: [
        {
          targetGroupArn: args.targetGroupArn,
          containerName: API_CONTAINER,
          containerPort: svc.containerPort,
        },
      ],
    },
    concern.child({ ...ownedByPipeline, dependsOn: [args.listener, ...linkedRole] }),
  )
  const workerService = new aws.ecs.Service(
    `${p}-worker-service`,
    {
      name: `${p}-worker`,
      ...rolloutSettings,
      taskDefinition: workerTaskDefinition.arn,
      desiredCount: config.worker.desiredCount,
    },
    concern.child({ ...ownedByPipeline, dependsOn: linkedRole }),
  )

  return {
    cluster,
    logGroup,
    apiTaskDefinition,
    workerTaskDefinition,
    apiService,
    workerService,
    apiFamily,
    workerFamily,
    taskSubnetIds,
    assignPublicIp,
  }
}

/** Target tracking on CPU and on requests per target, between service.minCount and service.maxCount. */
export function createAutoscaling(
  config: StackConfig,
  args: {
    clusterName: pulumi.Input<string>
    serviceName: pulumi.Input<string>
    albArnSuffix: pulumi.Input<string>
    targetGroupArnSuffix: pulumi.Input<string>
  },
): aws.appautoscaling.Target {
  const concern = new Concern('Autoscaling', config)
  const p = config.namePrefix
  const target = new aws.appautoscaling.Target(
    `${p}-api-scaling`,
    {
      serviceNamespace: 'ecs',
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: pulumi.interpolate`service/${args.clusterName}/${args.serviceName}`,
      minCapacity: config.service.minCount,
      maxCapacity: config.service.maxCount,
      tags: config.tags,
    },
    concern.child(),
  )
  const policy = (
    name: string,
    configuration: aws.types.input.appautoscaling.PolicyTargetTrackingScalingPolicyConfiguration,
  ) =>
    new aws.appautoscaling.Policy(
      `${p}-api-${name}`,
      {
        policyType: 'TargetTrackingScaling',
        serviceNamespace: target.serviceNamespace,
        scalableDimension: target.scalableDimension,
        resourceId: target.resourceId,
        targetTrackingScalingPolicyConfiguration: configuration,
      },
      concern.child(),
    )
  policy('cpu-tracking', {
    predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageCPUUtilization' },
    targetValue: config.service.cpuTargetPercent,
    scaleInCooldown: 300,
    scaleOutCooldown: 60,
  })
  policy('requests-tracking', {
    predefinedMetricSpecification: {
      predefinedMetricType: 'ALBRequestCountPerTarget',
      resourceLabel: pulumi.interpolate`${args.albArnSuffix}/${args.targetGroupArnSuffix}`,
    },
    targetValue: config.service.requestsPerTargetPerMinute,
    scaleInCooldown: 300,
    scaleOutCooldown: 60,
  })
  return target
}
