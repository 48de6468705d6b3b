// Staging switched to `public-task-ips` (the lean option): tasks in public subnets with public IPs, no NAT.
import { beforeAll, describe, expect, it } from 'vitest'
import { mockId } from '../src/mock-runtime.js'
import { egressOverride } from './support/egress-override.js'
import { runStackProgram, type StackRun } from './support/stack-program.js'

let run: StackRun
beforeAll(async () => {
  run = await runStackProgram('staging', egressOverride('staging', 'public-task-ips'))
})

describe('egress mode public-task-ips', () => {
  const publicSubnets = ['public-1', 'public-2'].map((n) =>
    mockId('aws:ec2/subnet:Subnet', `whatsapp-saas-staging-${n}`),
  )

  it('runs services and the backup task in the public subnets with a public IP', () => {
    for (const service of run.ofType('aws:ecs/service:Service')) {
      expect(service.inputs.networkConfiguration).toMatchObject({
        subnets: publicSubnets,
        assignPublicIp: true,
      })
    }
    const schedule = run.one('aws:scheduler/schedule:Schedule').inputs as {
      target: { ecsParameters: { networkConfiguration: unknown } }
    }
    expect(schedule.target.ecsParameters.networkConfiguration).toMatchObject({
      subnets: publicSubnets,
      assignPublicIp: true,
    })
    expect(run.outputs.taskAssignPublicIp).toBe('ENABLED')
    expect(run.outputs.taskSubnetIds).toEqual(publicSubnets)
  })

  it('has no NAT gateway and still admits the tasks only from the load balancer', () => {
    expect(run.ofType('aws:ec2/natGateway:NatGateway')).toEqual([])
    const tasksSg = mockId('aws:ec2/securityGroup:SecurityGroup', 'whatsapp-saas-staging-tasks-sg')
    const ingress = run
      .ofType('aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule')
      .filter((r) => r.inputs.securityGroupId === tasksSg)
    expect(
      ingress.map((r) => [r.inputs.fromPort, r.inputs.cidrIpv4, r.inputs.referencedSecurityGroupId]),
    ).toEqual([
      [3000, undefined, mockId('aws:ec2/securityGroup:SecurityGroup', 'whatsapp-saas-staging-alb-sg')],
    ])
  })
})
