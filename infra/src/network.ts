// VPC over two AZs with three tiers: public (ALB, NAT), private (ECS tasks), database (RDS, Redis;
// route table without any route out of the VPC). How private tasks reach AWS APIs and the internet
// is `network.egressMode`; the cost model prices each choice.
import * as aws from '@pulumi/aws'
import type * as pulumi from '@pulumi/pulumi'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'
import {
  DATABASE_CIDRS,
  INTERFACE_ENDPOINT_SERVICES,
  PRIVATE_CIDRS,
  PUBLIC_CIDRS,
  VPC_CIDR,
} from './network-layout.js'

export interface Network {
  vpc: aws.ec2.Vpc
  publicSubnetIds: pulumi.Output<string>[]
  privateSubnetIds: pulumi.Output<string>[]
  databaseSubnetIds: pulumi.Output<string>[]
  privateRouteTableIds: pulumi.Output<string>[]
}

export function createNetwork(config: StackConfig): Network {
  const concern = new Concern('Network', config)
  const p = config.namePrefix
  const tags = (name: string, extra: Record<string, string> = {}) => ({
    ...config.tags,
    Name: name,
    ...extra,
  })
  const azs = config.network.availabilityZones

  const vpc = new aws.ec2.Vpc(
    `${p}-vpc`,
    {
      cidrBlock: VPC_CIDR,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: tags(`${p}-vpc`),
    },
    concern.child(),
  )
  const internetGateway = new aws.ec2.InternetGateway(
    `${p}-igw`,
    { vpcId: vpc.id, tags: tags(`${p}-igw`) },
    concern.child(),
  )

  const subnets = (tier: string, cidrs: readonly string[]) =>
    cidrs.map(
      (cidr, i) =>
        new aws.ec2.Subnet(
          `${p}-${tier}-${i + 1}`,
          {
            vpcId: vpc.id,
            cidrBlock: cidr,
            availabilityZone: azs[i],
            // Nothing gets a public IP implicitly; tasks in `public-task-ips` mode ask for one explicitly.
            mapPublicIpOnLaunch: false,
            tags: tags(`${p}-${tier}-${azs[i]}`, { Tier: tier }),
          },
          concern.child(),
        ),
    )
  const publicSubnets = subnets('public', PUBLIC_CIDRS)
  const privateSubnets = subnets('private', PRIVATE_CIDRS)
  const databaseSubnets = subnets('database', DATABASE_CIDRS)

  const publicRouteTable = new aws.ec2.RouteTable(
    `${p}-public-rt`,
    {
      vpcId: vpc.id,
      tags: tags(`${p}-public-rt`, { Tier: 'public' }),
    },
    concern.child(),
  )
  new aws.ec2.Route(
    `${p}-public-default`,
    {
      routeTableId: publicRouteTable.id,
      destinationCidrBlock: '0.0.0.0/0',
      gatewayId: internetGateway.id,
    },
    concern.child(),
  )
  publicSubnets.forEach((subnet, i) => {
    new aws.ec2.RouteTableAssociation(
      `${p}-public-rta-${i + 1}`,
      {
        subnetId: subnet.id,
        routeTableId: publicRouteTable.id,
      },
      concern.child(),
    )
  })

  const mode = config.network.egressMode
  const natCount = mode === 'nat-per-az' ? 2 : mode === 'single-nat' ? 1 : 0
  const natGateways = Array.from({ length: natCount }, (_, i) => {
    const eip = new aws.ec2.Eip(
      `${p}-nat-eip-${i + 1}`,
      {
        domain: 'vpc',
        tags: tags(`${p}-nat-eip-${i + 1}`),
      },
      concern.child(),
    )
    return new aws.ec2.NatGateway(
      `${p}-nat-${i + 1}`,
      { allocationId: eip.id, subnetId: publicSubnets[i]!.id, tags: tags(`${p}-nat-${azs[i]}`) },
      concern.child({ dependsOn: [internetGateway] }),
    )
  })

  // One route table per private subnet so that, with a NAT per AZ, each AZ keeps its own way out.
  const privateRouteTables = privateSubnets.map((subnet, i) => {
    const table = new aws.ec2.RouteTable(
      `${p}-private-rt-${i + 1}`,
      {
        vpcId: vpc.id,
        tags: tags(`${p}-private-rt-${azs[i]}`, { Tier: 'private' }),
      },
      concern.child(),
    )
    const nat = natGateways[Math.min(i, natGateways.length - 1)]
    if (nat) {
      new aws.ec2.Route(
        `${p}-private-default-${i + 1}`,
        {
          routeTableId: table.id,
          destinationCidrBlock: '0.0.0.0/0',
          natGatewayId: nat.id,
        },
        concern.child(),
      )
    }
    new aws.ec2.RouteTableAssociation(
      `${p}-private-rta-${i + 1}`,
      {
        subnetId: subnet.id,
        routeTableId: table.id,
      },
      concern.child(),
    )
    return table
  })

  // The database tier gets its own table with no routes at all: only the implicit VPC-local route.
  const databaseRouteTable = new aws.ec2.RouteTable(
    `${p}-database-rt`,
    {
      vpcId: vpc.id,
      tags: tags(`${p}-database-rt`, { Tier: 'database' }),
    },
    concern.child(),
  )
  databaseSubnets.forEach((subnet, i) => {
    new aws.ec2.RouteTableAssociation(
      `${p}-database-rta-${i + 1}`,
      {
        subnetId: subnet.id,
        routeTableId: databaseRouteTable.id,
      },
      concern.child(),
    )
  })

  // The S3 gateway endpoint is free and keeps ECR layer downloads and backups off the NAT meter.
  new aws.ec2.VpcEndpoint(
    `${p}-s3-endpoint`,
    {
      vpcId: vpc.id,
      serviceName: `com.amazonaws.${config.region}.s3`,
      vpcEndpointType: 'Gateway',
      routeTableIds: privateRouteTables.map((t) => t.id),
      tags: tags(`${p}-s3-endpoint`),
    },
    concern.child(),
  )

  return {
    vpc,
    publicSubnetIds: publicSubnets.map((s) => s.id),
    privateSubnetIds: privateSubnets.map((s) => s.id),
    databaseSubnetIds: databaseSubnets.map((s) => s.id),
    privateRouteTableIds: privateRouteTables.map((t) => t.id),
  }
}

/** Interface endpoints for `vpc-endpoints` mode, reachable only from the tasks' security group. */
export function createInterfaceEndpoints(
  config: StackConfig,
  network: Network,
  endpointSecurityGroupId: pulumi.Input<string>,
): aws.ec2.VpcEndpoint[] {
  const concern = new Concern('InterfaceEndpoints', config)
  if (config.network.egressMode !== 'vpc-endpoints') return []
  const p = config.namePrefix
  return INTERFACE_ENDPOINT_SERVICES.map(
    (service) =>
      new aws.ec2.VpcEndpoint(
        `${p}-${service.replace('.', '-')}-endpoint`,
        {
          vpcId: network.vpc.id,
          serviceName: `com.amazonaws.${config.region}.${service}`,
          vpcEndpointType: 'Interface',
          privateDnsEnabled: true,
          subnetIds: network.privateSubnetIds,
          securityGroupIds: [endpointSecurityGroupId],
          tags: { ...config.tags, Name: `${p}-${service}-endpoint` },
        },
        concern.child(),
      ),
  )
}
