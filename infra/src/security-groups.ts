// Security groups of least privilege. Rules are separate resources (not inline blocks) so that each
// rule is visible, reviewable and testable on its own, and so AWS's default allow-all egress is gone.
import * as aws from '@pulumi/aws'
import type * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'

export const POSTGRES_PORT = 5432
export const REDIS_PORT = 6379

export interface SecurityGroups {
  alb: aws.ec2.SecurityGroup
  tasks: aws.ec2.SecurityGroup
  database: aws.ec2.SecurityGroup
  cache: aws.ec2.SecurityGroup
  endpoints: aws.ec2.SecurityGroup | undefined
}

export function createSecurityGroups(config: StackConfig, vpcId: pulumi.Input<string>): SecurityGroups {
  const concern = new Concern('SecurityGroups', config)
  const p = config.namePrefix
  const appPort = config.service.containerPort
  const group = (name: string, description: string) =>
    new aws.ec2.SecurityGroup(
      `${p}-${name}-sg`,
      {
        vpcId,
        description,
        tags: { ...config.tags, Name: `${p}-${name}` },
      },
      concern.child(),
    )
  const tcp = (port: number) => ({ ipProtocol: 'tcp', fromPort: port, toPort: port })
  const ingress = (name: string, args: aws.vpc.SecurityGroupIngressRuleArgs) =>
    new aws.vpc.SecurityGroupIngressRule(
      `${p}-${name}`,
      {
        ...args,
        tags: { ...config.tags, Name: `${p}-${name}` },
      },
      concern.child(),
    )
  const egress = (name: string, args: aws.vpc.SecurityGroupEgressRuleArgs) =>
    new aws.vpc.SecurityGroupEgressRule(
      `${p}-${name}`,
      {
        ...args,
        tags: { ...config.tags, Name: `${p}-${name}` },
      },
      concern.child(),
    )

  const alb = group('alb', 'Public load balancer: HTTPS and the HTTP redirect from anywhere')
  const tasks = group('tasks', 'ECS tasks: the app port from the load balancer only')
  const database = group('database', 'RDS PostgreSQL: 5432 from the ECS tasks only')
  const cache = group('cache', 'ElastiCache: 6379 from the ECS tasks only')

  ingress('alb-https-in', {
    securityGroupId: alb.id,
    cidrIpv4: '0.0.0.0/0',
    ...tcp(443),
    description: 'HTTPS',
  })
  ingress('alb-http-in', {
    securityGroupId: alb.id,
    cidrIpv4: '0.0.0.0/0',
    ...tcp(80),
    description: 'HTTP, redirected to HTTPS',
  })
  egress('alb-to-tasks', {
    securityGroupId: alb.id,
    referencedSecurityGroupId: tasks.id,
    ...tcp(appPort),
    description: 'Forward to the app port of the tasks',
  })

  ingress('tasks-from-alb', {
    securityGroupId: tasks.id,
    referencedSecurityGroupId: alb.id,
    ...tcp(appPort),
    description: 'App port from the load balancer',
  })
  // 443 out: ECR, Secrets Manager, CloudWatch Logs, S3 and Meta's Graph API (graph.facebook.com).
  egress('tasks-https-out', {
    securityGroupId: tasks.id,
    cidrIpv4: '0.0.0.0/0',
    ...tcp(443),
    description: 'HTTPS to AWS APIs and the WhatsApp Cloud API',
  })
  egress('tasks-to-database', {
    securityGroupId: tasks.id,
    referencedSecurityGroupId: database.id,
    ...tcp(POSTGRES_PORT),
    description: 'PostgreSQL',
  })
  egress('tasks-to-cache', {
    securityGroupId: tasks.id,
    referencedSecurityGroupId: cache.id,
    ...tcp(REDIS_PORT),
    description: 'Redis',
  })

  ingress('database-from-tasks', {
    securityGroupId: database.id,
    referencedSecurityGroupId: tasks.id,
    ...tcp(POSTGRES_PORT),
    description: 'PostgreSQL from the ECS tasks',
  })
  ingress('cache-from-tasks', {
    securityGroupId: cache.id,
    referencedSecurityGroupId: tasks.id,
    ...tcp(REDIS_PORT),
    description: 'Redis from the ECS tasks',
  })

  let endpoints: aws.ec2.SecurityGroup | undefined
  if (config.network.egressMode === 'vpc-endpoints') {
    endpoints = group('endpoints', 'Interface VPC endpoints: HTTPS from the ECS tasks only')
    ingress('endpoints-from-tasks', {
      securityGroupId: endpoints.id,
      referencedSecurityGroupId: tasks.id,
      ...tcp(443),
      description: 'HTTPS from the ECS tasks',
    })
  }
  return { alb, tasks, database, cache, endpoints }
}
