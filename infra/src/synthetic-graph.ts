// Staging only: the project's fake WhatsApp Graph API (same image, `node dist/fake-graph/main.js`) as its
// own internal ECS service, found by the API and worker tasks through Cloud Map DNS. The synthetic tenant's
// phone number points its Graph base URL here (the only override the service accepts, set through
// SYNTHETIC_GRAPH_API_BASE_URL), so smoke and load send, receive webhooks and see deliveries on AWS
// without messaging a real person. Nothing outside the VPC reaches it.
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import { STOP_TIMEOUT_SECONDS } from './compute.js'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'
import type { AppSecrets } from './secrets.js'

export const FAKE_GRAPH_CONTAINER = 'fake-graph'
export const FAKE_GRAPH_PORT = 4004
export const FAKE_GRAPH_COMMAND = ['node', 'dist/fake-graph/main.js']

/** `http://fake-graph.<namespace>:4004`: what SYNTHETIC_GRAPH_API_BASE_URL of the API and worker holds. */
export function syntheticGraphBaseUrl(config: StackConfig): string {
  return `http://${FAKE_GRAPH_CONTAINER}.${namespaceName(config)}:${FAKE_GRAPH_PORT}`
}

function namespaceName(config: StackConfig): string {
  return `${config.namePrefix}.internal`
}

export interface SyntheticGraph {
  baseUrl: string
  service: aws.ecs.Service
  taskDefinition: aws.ecs.TaskDefinition
}

export function createSyntheticGraph(
  config: StackConfig,
  args: {
    vpcId: pulumi.Input<string>
    clusterArn: pulumi.Input<string>
    image: pulumi.Input<string>
    secrets: AppSecrets
    executionRoleArn: pulumi.Input<string>
    logGroupName: pulumi.Input<string>
    subnetIds: pulumi.Input<string>[]
    assignPublicIp: boolean
    taskSecurityGroupId: pulumi.Input<string>
  },
): SyntheticGraph {
  const concern = new Concern('SyntheticGraph', config)
  const p = config.namePrefix
  const tags = config.tags
  const namespace = new aws.servicediscovery.PrivateDnsNamespace(
    `${p}-internal-ns`,
    {
      name: namespaceName(config),
      vpc: args.vpcId,
      description: 'Internal names of staging-only services (the fake Graph API)',
      tags,
    },
    concern.child(),
  )
  const discovery = new aws.servicediscovery.Service(
    `${p}-fake-graph-discovery`,
    {
      name: FAKE_GRAPH_CONTAINER,
      namespaceId: namespace.id,
      dnsConfig: {
        namespaceId: namespace.id,
        routingPolicy: 'MULTIVALUE',
        dnsRecords: [{ type: 'A', ttl: 10 }],
      },
      healthCheckCustomConfig: { failureThreshold: 1 },
      tags,
    },
    concern.child(),
  )

  const group = new aws.ec2.SecurityGroup(
    `${p}-fake-graph-sg`,
    {
      vpcId: args.vpcId,
      description: 'Fake Graph API (staging): its port from the ECS tasks only',
      tags: { ...tags, Name: `${p}-fake-graph` },
    },
    concern.child(),
  )
  const rule = (name: string) => ({ ...tags, Name: `${p}-${name}` })
  new aws.vpc.SecurityGroupIngressRule(
    `${p}-fake-graph-from-tasks`,
    {
      securityGroupId: group.id,
      referencedSecurityGroupId: args.taskSecurityGroupId,
      ipProtocol: 'tcp',
      fromPort: FAKE_GRAPH_PORT,
      toPort: FAKE_GRAPH_PORT,
      description: 'Graph API calls of the API and worker tasks',
      tags: rule('fake-graph-from-tasks'),
    },
    concern.child(),
  )
  new aws.vpc.SecurityGroupEgressRule(
    `${p}-tasks-to-fake-graph`,
    {
      securityGroupId: args.taskSecurityGroupId,
      referencedSecurityGroupId: group.id,
      ipProtocol: 'tcp',
      fromPort: FAKE_GRAPH_PORT,
      toPort: FAKE_GRAPH_PORT,
      description: 'Fake Graph API (staging)',
      tags: rule('tasks-to-fake-graph'),
    },
    concern.child(),
  )
  // 443 out: the image pull, its secret, its logs, and the signed webhooks it sends to the public URL.
  new aws.vpc.SecurityGroupEgressRule(
    `${p}-fake-graph-https-out`,
    {
      securityGroupId: group.id,
      cidrIpv4: '0.0.0.0/0',
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      description: 'HTTPS to AWS APIs and the service webhooks',
      tags: rule('fake-graph-https-out'),
    },
    concern.child(),
  )

  const family = `${p}-fake-graph`
  const taskDefinition = new aws.ecs.TaskDefinition(
    `${family}-taskdef`,
    {
      family,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: config.service.architecture },
      executionRoleArn: args.executionRoleArn,
      containerDefinitions: pulumi.jsonStringify([
        {
          name: FAKE_GRAPH_CONTAINER,
          image: args.image,
          essential: true,
          command: FAKE_GRAPH_COMMAND,
          portMappings: [{ containerPort: FAKE_GRAPH_PORT, protocol: 'tcp', name: 'graph' }],
          environment: [
            { name: 'NODE_ENV', value: 'production' },
            { name: 'FAKE_GRAPH_HOST', value: '0.0.0.0' },
            { name: 'FAKE_GRAPH_PORT', value: String(FAKE_GRAPH_PORT) },
            { name: 'FAKE_GRAPH_WEBHOOK_URL', value: `https://${config.domain}/webhooks/whatsapp` },
            // Smoke and load post inbound messages to the service, not to this fake: the service holds the window.
            { name: 'FAKE_GRAPH_ENFORCE_SERVICE_WINDOW', value: 'false' },
          ],
          secrets: [
            { name: 'META_APP_SECRET', valueFrom: pulumi.interpolate`${args.secrets.meta.arn}:appSecret::` },
          ],
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': args.logGroupName,
              'awslogs-region': config.region,
              'awslogs-stream-prefix': FAKE_GRAPH_CONTAINER,
            },
          },
          stopTimeout: STOP_TIMEOUT_SECONDS,
        },
      ]),
      tags,
    },
    concern.child(),
  )
  const service = new aws.ecs.Service(
    `${p}-fake-graph-service`,
    {
      name: family,
      cluster: args.clusterArn,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      taskDefinition: taskDefinition.arn,
      desiredCount: 1,
      networkConfiguration: {
        subnets: args.subnetIds,
        securityGroups: [group.id],
        assignPublicIp: args.assignPublicIp,
      },
      serviceRegistries: { registryArn: discovery.arn },
      deploymentCircuitBreaker: { enable: true, rollback: true },
      propagateTags: 'SERVICE',
      waitForSteadyState: false,
      tags,
    },
    // Pulumi alone owns it: the provision stage sets the stack's `image` to the digest being deployed.
    concern.child(),
  )
  return { baseUrl: syntheticGraphBaseUrl(config), service, taskDefinition }
}
