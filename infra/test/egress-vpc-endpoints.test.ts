// Staging switched to `vpc-endpoints`: no NAT, interface endpoints reachable only from the tasks.
import { beforeAll, describe, expect, it } from 'vitest'
import { mockId } from '../src/mock-runtime.js'
import { egressOverride } from './support/egress-override.js'
import { runStackProgram, type StackRun } from './support/stack-program.js'

let run: StackRun
beforeAll(async () => {
  run = await runStackProgram('staging', egressOverride('staging', 'vpc-endpoints'))
})

describe('egress mode vpc-endpoints', () => {
  it('creates no NAT gateway and no default route in the private subnets', () => {
    expect(run.ofType('aws:ec2/natGateway:NatGateway')).toEqual([])
    expect(run.ofType('aws:ec2/eip:Eip')).toEqual([])
    expect(run.ofType('aws:ec2/route:Route').map((r) => r.name)).toEqual([
      'whatsapp-saas-staging-public-default',
    ])
  })

  it('creates interface endpoints for ECR, Secrets Manager and Logs in the private subnets', () => {
    const endpoints = run
      .ofType('aws:ec2/vpcEndpoint:VpcEndpoint')
      .filter((e) => e.inputs.vpcEndpointType === 'Interface')
    expect(
      endpoints.map((e) => String(e.inputs.serviceName).replace('com.amazonaws.us-east-1.', '')).sort(),
    ).toEqual(['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager'])
    const privateSubnets = ['private-1', 'private-2'].map((n) =>
      mockId('aws:ec2/subnet:Subnet', `whatsapp-saas-staging-${n}`),
    )
    const endpointSg = mockId('aws:ec2/securityGroup:SecurityGroup', 'whatsapp-saas-staging-endpoints-sg')
    for (const e of endpoints) {
      expect(e.inputs.subnetIds).toEqual(privateSubnets)
      expect(e.inputs.securityGroupIds).toEqual([endpointSg])
      expect(e.inputs.privateDnsEnabled).toBe(true)
    }
  })

  it('opens the endpoints to HTTPS from the tasks only', () => {
    const endpointSg = mockId('aws:ec2/securityGroup:SecurityGroup', 'whatsapp-saas-staging-endpoints-sg')
    const rules = run
      .ofType('aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule')
      .filter((r) => r.inputs.securityGroupId === endpointSg)
    expect(rules.map((r) => [r.inputs.fromPort, r.inputs.referencedSecurityGroupId])).toEqual([
      [443, mockId('aws:ec2/securityGroup:SecurityGroup', 'whatsapp-saas-staging-tasks-sg')],
    ])
  })
})
