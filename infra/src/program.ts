// Wires the concerns together and returns the stack outputs the pipeline and operators need.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { createBackupAlerts, createBackupSchedule } from './backup-schedule.js'
import { createCache } from './cache.js'
import { API_CONTAINER, createAutoscaling, createCompute } from './compute.js'
import { CONFIG_KEYS, PROJECT, parseStackConfig, type StackConfig, stackMaxConnections } from './config.js'
import { createCostControls } from './cost-controls.js'
import { createDatabase } from './database.js'
import { createDeployRole } from './github-deploy.js'
import { createTaskRoles } from './iam.js'
import { createImageRepository } from './image-repository.js'
import { createKeys } from './kms.js'
import { createLoadBalancer } from './load-balancer.js'
import { createMonitoring } from './monitoring.js'
import { createInterfaceEndpoints, createNetwork } from './network.js'
import { createCiAccess, createWorkloadBoundary } from './provisioning.js'
import { createReleaseEvidenceAccess } from './release-evidence.js'
import { createSecrets } from './secrets.js'
import { createSecurityGroups } from './security-groups.js'
import type { StackOutputName } from './stack-outputs.js'
import { createStorage } from './storage.js'
import { createSyntheticGraph, syntheticGraphBaseUrl } from './synthetic-graph.js'

/** Reads this stack's configuration from Pulumi and validates it (see config.ts). */
export function readStackConfig(): StackConfig {
  const raw: Record<string, string | undefined> = {}
  for (const key of CONFIG_KEYS) {
    const [namespace, name] = key.split(':') as [string, string]
    raw[key] = new pulumi.Config(namespace).get(name)
  }
  return parseStackConfig(pulumi.getStack(), raw)
}

export function createInfrastructure(config: StackConfig) {
  const accountId = aws.getCallerIdentityOutput({}).accountId
  const network = createNetwork(config)
  const keys = createKeys(config, accountId)
  const groups = createSecurityGroups(config, network.vpc.id)
  createInterfaceEndpoints(config, network, groups.endpoints?.id ?? '')
  const secrets = createSecrets(config, keys.data.arn)

  const database = createDatabase(config, {
    subnetIds: network.databaseSubnetIds,
    securityGroupId: groups.database.id,
    kmsKeyArn: keys.data.arn,
    password: secrets.databasePassword,
    secret: secrets.database,
  })
  const cache = createCache(config, {
    subnetIds: network.databaseSubnetIds,
    securityGroupId: groups.cache.id,
    kmsKeyArn: keys.data.arn,
    authToken: secrets.redisAuthToken,
    secret: secrets.redis,
  })
  const storage = createStorage(config, {
    backupKeyArn: keys.backup.arn,
    dataKeyArn: keys.data.arn,
    accountId,
  })
  const images = createImageRepository(config, { dataKeyArn: keys.data.arn, accountId })
  const lb = createLoadBalancer(config, {
    vpcId: network.vpc.id,
    subnetIds: network.publicSubnetIds,
    securityGroupId: groups.alb.id,
  })

  // The log group is created by compute; its ARN is known up front, which breaks the role ↔ group cycle.
  const logGroupArn = pulumi.interpolate`arn:aws:logs:${config.region}:${accountId}:log-group:/ecs/${config.namePrefix}`
  const secretArns = [
    secrets.database.arn,
    secrets.redis.arn,
    secrets.adminToken.arn,
    secrets.meta.arn,
    secrets.encryptionKey.arn,
  ]
  const boundary = createWorkloadBoundary(config, accountId)
  const roles = createTaskRoles(config, {
    boundaryArn: boundary.arn,
    secretArns,
    dataKeyArn: keys.data.arn,
    logGroupArn,
    repositoryArn: images.repositoryArn,
    backupBucketArn: storage.backupBucket.arn,
    backupKeyArn: keys.backup.arn,
  })
  // ECS creates AWSServiceRoleForECS on first use, and in a fresh account the first CreateService can
  // run before the role has propagated ("Unable to assume the service linked role"). Created here, the
  // services wait for it; kept on destroy because every ECS cluster of the account relies on it.
  const ecsServiceLinkedRole = config.account.createEcsServiceLinkedRole
    ? new aws.iam.ServiceLinkedRole(
        `${config.namePrefix}-ecs-service-linked-role`,
        { awsServiceName: 'ecs.amazonaws.com', description: 'ECS (created before the first service)' },
        { retainOnDelete: true },
      )
    : undefined
  // Before the first deploy `image` is unset and the placeholder tag (never pushed) stands in; from then on
  // the provision stage sets it to the digest being deployed, so Pulumi's revision runs that very image.
  const image = config.service.image ?? pulumi.interpolate`${images.repositoryUrl}:bootstrap`
  const compute = createCompute(config, {
    image,
    secrets,
    logsKeyArn: keys.logs.arn,
    executionRoleArn: roles.execution.arn,
    taskRoleArn: roles.task.arn,
    backupBucketName: storage.backupBucket.bucket,
    backupStore: storage.backupStore,
    backupKeyArn: keys.backup.arn,
    privateSubnetIds: network.privateSubnetIds,
    publicSubnetIds: network.publicSubnetIds,
    taskSecurityGroupId: groups.tasks.id,
    targetGroupArn: lb.targetGroup.arn,
    listener: lb.httpsListener,
    serviceLinkedRole: ecsServiceLinkedRole,
    environment: config.syntheticGraph
      ? [{ name: 'SYNTHETIC_GRAPH_API_BASE_URL', value: syntheticGraphBaseUrl(config) }]
      : [],
  })
  const syntheticGraph = config.syntheticGraph
    ? createSyntheticGraph(config, {
        vpcId: network.vpc.id,
        clusterArn: compute.cluster.arn,
        image,
        secrets,
        executionRoleArn: roles.execution.arn,
        logGroupName: compute.logGroup.name,
        subnetIds: compute.taskSubnetIds,
        assignPublicIp: compute.assignPublicIp,
        taskSecurityGroupId: groups.tasks.id,
      })
    : undefined
  createAutoscaling(config, {
    clusterName: compute.cluster.name,
    serviceName: compute.apiService.name,
    albArnSuffix: lb.alb.arnSuffix,
    targetGroupArnSuffix: lb.targetGroup.arnSuffix,
  })
  const backupSchedule = createBackupSchedule(config, {
    accountId,
    clusterArn: compute.cluster.arn,
    taskFamily: compute.apiFamily,
    executionRoleArn: roles.execution.arn,
    taskRoleArn: roles.task.arn,
    subnetIds: compute.taskSubnetIds,
    securityGroupId: groups.tasks.id,
    assignPublicIp: compute.assignPublicIp,
    boundaryArn: boundary.arn,
  })
  const deploy = createDeployRole(config, {
    accountId,
    repositoryArn: images.repositoryArn,
    clusterArn: compute.cluster.arn,
    passRoleArns: [roles.execution.arn, roles.task.arn],
    logGroupArn,
    backupBucketArn: storage.backupBucket.arn,
    backupKeyArn: keys.backup.arn,
    databaseArn: database.instance.arn,
  })
  const ci = createCiAccess(config, {
    accountId,
    oidcProviderArn: deploy.oidcProviderArn,
    deployRole: deploy.role,
    boundaryArn: boundary.arn,
  })
  const releaseEvidenceBucket = pulumi.interpolate`${PROJECT}-${config.imageRepository.owner}-backups-${accountId}`
  createReleaseEvidenceAccess(config, {
    deployRoleName: deploy.role.name,
    evidenceBucket: releaseEvidenceBucket,
  })
  const monitoring = createMonitoring(config, {
    dbInstanceId: database.instance.identifier,
    cacheMemberClusterIds: cache.memberClusterIds,
    albArnSuffix: lb.alb.arnSuffix,
    targetGroupArnSuffix: lb.targetGroup.arnSuffix,
    clusterName: compute.cluster.name,
    apiServiceName: compute.apiService.name,
    workerServiceName: compute.workerService.name,
    logGroupName: compute.logGroup.name,
  })
  createBackupAlerts(config, { accountId, clusterArn: compute.cluster.arn, topic: monitoring.topic })
  const costControls = createCostControls(config)

  const outputs = {
    region: config.region,
    url: `https://${config.domain}`,
    clusterName: compute.cluster.name,
    apiServiceName: compute.apiService.name,
    workerServiceName: compute.workerService.name,
    taskFamily: compute.apiFamily,
    workerTaskFamily: compute.workerFamily,
    containerName: API_CONTAINER,
    privateSubnetIds: network.privateSubnetIds,
    taskSubnetIds: compute.taskSubnetIds,
    taskAssignPublicIp: compute.assignPublicIp ? 'ENABLED' : 'DISABLED',
    taskSecurityGroupId: groups.tasks.id,
    albDnsName: lb.alb.dnsName,
    targetGroupArn: lb.targetGroup.arn,
    ecrRepositoryUrl: images.repositoryUrl,
    /** The stack that owns the shared image repository and whose passed runs production promotes. */
    imageRepositoryOwner: config.imageRepository.owner,
    /** Where the owner stack records the digests it passed (`releases/<digest>.json`). */
    releaseEvidenceBucket,
    apiTaskDefinitionArn: compute.apiTaskDefinition.arn,
    workerTaskDefinitionArn: compute.workerTaskDefinition.arn,
    syntheticGraphApiBaseUrl: syntheticGraph?.baseUrl ?? '',
    backupBucket: storage.backupBucket.bucket,
    backupStore: storage.backupStore,
    backupKmsKeyArn: keys.backup.arn,
    backupScheduleName: backupSchedule.name,
    databaseSecretArn: secrets.database.arn,
    redisSecretArn: secrets.redis.arn,
    adminTokenSecretArn: secrets.adminToken.arn,
    metaSecretArn: secrets.meta.arn,
    databaseEndpoint: database.instance.endpoint,
    redisEndpoint: cache.replicationGroup.primaryEndpointAddress,
    deployRoleArn: deploy.role.arn,
    previewRoleArn: ci.previewRole.arn,
    workloadBoundaryArn: boundary.arn,
    logGroupName: compute.logGroup.name,
    alertTopicArn: monitoring.topic.arn,
    vpcId: network.vpc.id,
    dbInstanceId: database.instance.identifier,
    // For operators' tools (e.g. the pipeline's diagnose) that compare connections with the limit.
    databaseMaxConnections: stackMaxConnections(config)!.value,
    redisReplicationGroupId: cache.replicationGroup.replicationGroupId,
    budgetName: costControls.budget.name,
    certificateArn: config.certificateArn,
    domain: config.domain,
    // `satisfies` keeps this object and the one list of outputs (stack-outputs.ts) equal: a key missing
    // here or present here only is a type error.
  } satisfies Record<StackOutputName, unknown>
  return outputs
}

export type InfrastructureOutputs = ReturnType<typeof createInfrastructure>
