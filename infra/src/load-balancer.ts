// Internet-facing ALB: HTTPS with TLS 1.2+ (TLS 1.3 preferred), HTTP only to redirect, targets by IP
// (awsvpc tasks) checked on /health, which answers 200 only when PostgreSQL and Redis are reachable.
import * as aws from '@pulumi/aws'
import type * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'

export const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06'
export const HEALTH_CHECK_PATH = '/health'

export interface LoadBalancer {
  alb: aws.lb.LoadBalancer
  targetGroup: aws.lb.TargetGroup
  httpsListener: aws.lb.Listener
}

export function createLoadBalancer(
  config: StackConfig,
  args: {
    vpcId: pulumi.Input<string>
    subnetIds: pulumi.Input<string>[]
    securityGroupId: pulumi.Input<string>
  },
): LoadBalancer {
  const concern = new Concern('LoadBalancer', config)
  const p = config.namePrefix
  const tags = { ...config.tags, Name: `${p}-alb` }
  const alb = new aws.lb.LoadBalancer(
    `${p}-alb`,
    {
      name: `${p}-alb`.slice(0, 32),
      loadBalancerType: 'application',
      internal: false,
      subnets: args.subnetIds,
      securityGroups: [args.securityGroupId],
      dropInvalidHeaderFields: true,
      enableDeletionProtection: config.isProduction,
      idleTimeout: 60,
      tags,
    },
    concern.child(),
  )
  const targetGroup = new aws.lb.TargetGroup(
    `${p}-api-tg`,
    {
      name: `${p}-api`.slice(0, 32),
      port: config.service.containerPort,
      protocol: 'HTTP',
      targetType: 'ip',
      vpcId: args.vpcId,
      // Matches the service's 30 s stop timeout: in-flight requests finish before SIGKILL.
      deregistrationDelay: 30,
      healthCheck: {
        path: HEALTH_CHECK_PATH,
        matcher: '200',
        protocol: 'HTTP',
        interval: 15,
        timeout: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
      },
      tags,
    },
    concern.child(),
  )
  const httpsListener = new aws.lb.Listener(
    `${p}-https`,
    {
      loadBalancerArn: alb.arn,
      port: 443,
      protocol: 'HTTPS',
      sslPolicy: TLS_POLICY,
      certificateArn: config.certificateArn,
      defaultActions: [{ type: 'forward', targetGroupArn: targetGroup.arn }],
      tags,
    },
    concern.child(),
  )
  new aws.lb.Listener(
    `${p}-http-redirect`,
    {
      loadBalancerArn: alb.arn,
      port: 80,
      protocol: 'HTTP',
      defaultActions: [
        { type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } },
      ],
      tags,
    },
    concern.child(),
  )
  return { alb, targetGroup, httpsListener }
}
