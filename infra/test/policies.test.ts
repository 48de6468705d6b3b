import { describe, expect, it } from 'vitest'
import {
  backupRetention,
  bucketEncryptedWithKms,
  bucketPublicAccessBlocked,
  cacheEncrypted,
  databaseEncrypted,
  listenerTls12,
  logsEncryptedWithKms,
  noOpenIngress,
  noPublicDatabase,
  noSecretsInTaskEnvironment,
  openIngressOnlyOnLoadBalancer,
  policies,
  productionResilience,
  repositoryEncryptedWithKms,
  TYPES,
} from '../policy/policies.js'
import { stackViolations, violations } from './support/policy-harness.js'

const rds = {
  engine: 'postgres',
  storageEncrypted: true,
  kmsKeyId: 'arn:aws:kms:us-east-1:1:key/a',
  publiclyAccessible: false,
  dbSubnetGroupName: 'db',
  deletionProtection: true,
  multiAz: true,
  backupRetentionPeriod: 7,
  tags: { Environment: 'production' },
}
const cache = {
  replicationGroupId: 'g',
  atRestEncryptionEnabled: true,
  transitEncryptionEnabled: true,
  kmsKeyId: 'arn:aws:kms:us-east-1:1:key/a',
  subnetGroupName: 'cache',
  securityGroupIds: ['sg-1'],
  multiAzEnabled: true,
  automaticFailoverEnabled: true,
  snapshotRetentionLimit: 7,
  tags: { Environment: 'production' },
}

describe('policy pack', () => {
  it('enforces every policy as mandatory', () => {
    expect(policies).toHaveLength(13)
    for (const p of policies) expect(p.enforcementLevel).toBe('mandatory')
    expect(new Set(policies.map((p) => p.name)).size).toBe(policies.length)
  })

  it('database encryption: passes with a KMS key, fails unencrypted', async () => {
    expect(await violations(databaseEncrypted, TYPES.rdsInstance, rds)).toEqual([])
    const found = await violations(databaseEncrypted, TYPES.rdsInstance, {
      ...rds,
      storageEncrypted: false,
      kmsKeyId: undefined,
    })
    expect(found).toHaveLength(2)
    expect(found[0]).toContain('storageEncrypted')
  })

  it('cache encryption: at rest with KMS and in transit', async () => {
    expect(await violations(cacheEncrypted, TYPES.replicationGroup, cache)).toEqual([])
    expect(
      await violations(cacheEncrypted, TYPES.replicationGroup, { ...cache, transitEncryptionEnabled: false }),
    ).toEqual(['resource: transitEncryptionEnabled must be true'])
  })

  it('S3 encryption must be aws:kms with a key', async () => {
    const kms = {
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: 'k' } }],
    }
    expect(await violations(bucketEncryptedWithKms, TYPES.bucketEncryption, kms)).toEqual([])
    const aes = { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }] }
    expect(await violations(bucketEncryptedWithKms, TYPES.bucketEncryption, aes)).toHaveLength(1)
  })

  it('ECR must use KMS encryption', async () => {
    expect(
      await violations(repositoryEncryptedWithKms, TYPES.ecrRepository, {
        encryptionConfigurations: [{ encryptionType: 'KMS' }],
      }),
    ).toEqual([])
    expect(await violations(repositoryEncryptedWithKms, TYPES.ecrRepository, {})).toHaveLength(1)
  })

  it('log groups need a KMS key', async () => {
    expect(await violations(logsEncryptedWithKms, TYPES.logGroup, { kmsKeyId: 'k' })).toEqual([])
    expect(await violations(logsEncryptedWithKms, TYPES.logGroup, { retentionInDays: 7 })).toHaveLength(1)
  })

  it('no public database, cache in explicit private subnets', async () => {
    expect(await violations(noPublicDatabase, TYPES.rdsInstance, rds)).toEqual([])
    expect(
      await violations(noPublicDatabase, TYPES.rdsInstance, { ...rds, publiclyAccessible: true }),
    ).toEqual(['resource: publiclyAccessible must be false'])
    expect(await violations(noPublicDatabase, TYPES.replicationGroup, cache)).toEqual([])
    expect(
      await violations(noPublicDatabase, TYPES.replicationGroup, { ...cache, securityGroupIds: [] }),
    ).toHaveLength(1)
  })

  it('open ingress only on tcp 80/443, in every rule shape', async () => {
    const https = {
      securityGroupId: 'sg',
      cidrIpv4: '0.0.0.0/0',
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
    }
    expect(await violations(noOpenIngress, TYPES.ingressRule, https)).toEqual([])
    expect(
      await violations(noOpenIngress, TYPES.ingressRule, { ...https, fromPort: 5432, toPort: 5432 }),
    ).toHaveLength(1)
    expect(
      await violations(noOpenIngress, TYPES.ingressRule, {
        ...https,
        cidrIpv4: undefined,
        cidrIpv6: '::/0',
        fromPort: 0,
        toPort: 65535,
      }),
    ).toHaveLength(1)
    // From a security group, not from anywhere: any port is fine.
    expect(
      await violations(noOpenIngress, TYPES.ingressRule, {
        referencedSecurityGroupId: 'sg-alb',
        ipProtocol: 'tcp',
        fromPort: 3000,
        toPort: 3000,
      }),
    ).toEqual([])
    const inline = { ingress: [{ protocol: 'tcp', fromPort: 22, toPort: 22, cidrBlocks: ['0.0.0.0/0'] }] }
    expect(await violations(noOpenIngress, TYPES.securityGroup, inline)).toHaveLength(1)
    const legacy = { type: 'ingress', protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }
    expect(await violations(noOpenIngress, TYPES.securityGroupRule, legacy)).toHaveLength(1)
    expect(await violations(noOpenIngress, TYPES.securityGroupRule, { ...legacy, type: 'egress' })).toEqual(
      [],
    )
  })

  it('HTTPS listeners need TLS 1.2+, HTTP listeners may only redirect', async () => {
    const https = { protocol: 'HTTPS', sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' }
    expect(await violations(listenerTls12, TYPES.listener, https)).toEqual([])
    expect(
      await violations(listenerTls12, TYPES.listener, { ...https, sslPolicy: 'ELBSecurityPolicy-2016-08' }),
    ).toHaveLength(1)
    const redirect = {
      protocol: 'HTTP',
      defaultActions: [{ type: 'redirect', redirect: { protocol: 'HTTPS' } }],
    }
    expect(await violations(listenerTls12, TYPES.listener, redirect)).toEqual([])
    expect(
      await violations(listenerTls12, TYPES.listener, {
        protocol: 'HTTP',
        defaultActions: [{ type: 'forward' }],
      }),
    ).toHaveLength(1)
  })

  it('S3 public access block needs all four flags', async () => {
    const all = {
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    }
    expect(await violations(bucketPublicAccessBlocked, TYPES.bucketPublicAccessBlock, all)).toEqual([])
    expect(
      await violations(bucketPublicAccessBlocked, TYPES.bucketPublicAccessBlock, {
        ...all,
        blockPublicPolicy: false,
      }),
    ).toEqual(['resource: blockPublicPolicy must be true'])
  })

  it('production needs deletion protection and Multi-AZ; staging does not', async () => {
    expect(await violations(productionResilience, TYPES.rdsInstance, rds)).toEqual([])
    const singleAz = { ...rds, multiAz: false, deletionProtection: false }
    expect(await violations(productionResilience, TYPES.rdsInstance, singleAz)).toHaveLength(2)
    expect(
      await violations(productionResilience, TYPES.rdsInstance, {
        ...singleAz,
        tags: { Environment: 'staging' },
      }),
    ).toEqual([])
    expect(
      await violations(productionResilience, TYPES.replicationGroup, { ...cache, multiAzEnabled: false }),
    ).toHaveLength(1)
  })

  it('backup retention of at least 7 days on RDS and ElastiCache', async () => {
    expect(await violations(backupRetention, TYPES.rdsInstance, rds)).toEqual([])
    expect(
      await violations(backupRetention, TYPES.rdsInstance, { ...rds, backupRetentionPeriod: 1 }),
    ).toHaveLength(1)
    expect(await violations(backupRetention, TYPES.replicationGroup, cache)).toEqual([])
    expect(
      await violations(backupRetention, TYPES.replicationGroup, {
        ...cache,
        snapshotRetentionLimit: undefined,
      }),
    ).toHaveLength(1)
  })

  it('ignores resource types a policy does not cover', async () => {
    expect(await violations(databaseEncrypted, TYPES.logGroup, {})).toEqual([])
  })

  it('allows open ingress only on a security group a load balancer uses', async () => {
    const lb = {
      type: TYPES.loadBalancer,
      name: 'alb',
      inputs: { securityGroups: [undefined] },
      dependsOn: { securityGroups: ['alb-sg'] },
    }
    const groups = [
      { type: TYPES.securityGroup, name: 'alb-sg', inputs: {} },
      { type: TYPES.securityGroup, name: 'tasks-sg', inputs: {} },
    ]
    const open = (name: string, group: string) => ({
      type: TYPES.ingressRule,
      name,
      inputs: { cidrIpv4: '0.0.0.0/0', ipProtocol: 'tcp', fromPort: 443, toPort: 443 },
      dependsOn: { securityGroupId: [group] },
    })
    expect(
      await stackViolations(openIngressOnlyOnLoadBalancer, [lb, ...groups, open('alb-https', 'alb-sg')]),
    ).toEqual([])
    expect(
      await stackViolations(openIngressOnlyOnLoadBalancer, [lb, ...groups, open('tasks-https', 'tasks-sg')]),
    ).toEqual(['tasks-https: open to the internet on a security group no load balancer uses'])
    // Matched by id when no dependency information is available (as under mocks).
    const byId = [
      { type: TYPES.loadBalancer, name: 'alb', inputs: { securityGroups: ['sg-1'] } },
      {
        type: TYPES.ingressRule,
        name: 'r1',
        inputs: { securityGroupId: 'sg-1', cidrIpv4: '0.0.0.0/0', fromPort: 80, toPort: 80 },
      },
      {
        type: TYPES.ingressRule,
        name: 'r2',
        inputs: { securityGroupId: 'sg-2', cidrIpv6: '::/0', fromPort: 443, toPort: 443 },
      },
    ]
    expect(await stackViolations(openIngressOnlyOnLoadBalancer, byId)).toEqual([
      'r2: open to the internet on a security group no load balancer uses',
    ])
  })

  it('keeps secrets out of plain task environment', async () => {
    const definition = (environment: { name: string; value: string }[]) => ({
      containerDefinitions: JSON.stringify([
        {
          name: 'api',
          environment,
          secrets: [{ name: 'DATABASE_URL', valueFrom: 'arn:aws:secretsmanager:x' }],
        },
      ]),
    })
    const plain = [
      { name: 'NODE_ENV', value: 'production' },
      { name: 'BACKUP_KMS_KEY_ID', value: 'arn:aws:kms:us-east-1:1:key/a' },
      { name: 'PUBLIC_URL', value: 'https://api.example.com' },
    ]
    expect(await violations(noSecretsInTaskEnvironment, TYPES.taskDefinition, definition(plain))).toEqual([])
    expect(
      await violations(
        noSecretsInTaskEnvironment,
        TYPES.taskDefinition,
        definition([...plain, { name: 'ADMIN_TOKEN', value: 'x' }]),
      ),
    ).toEqual(['resource: container api: ADMIN_TOKEN looks like a secret; move it to "secrets"'])
    const url = { name: 'QUEUE', value: 'rediss://default:hunter2@cache:6379' }
    expect(
      await violations(noSecretsInTaskEnvironment, TYPES.taskDefinition, definition([url])),
    ).toHaveLength(1)
    expect(
      await violations(noSecretsInTaskEnvironment, TYPES.taskDefinition, { containerDefinitions: undefined }),
    ).toEqual([])
  })
})
