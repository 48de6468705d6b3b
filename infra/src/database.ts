// RDS PostgreSQL in the database subnets: encrypted with the data key, private, deletion-protected,
// 7-day automated backups with point-in-time recovery (RDS ships WAL every 5 minutes: RPO 5 min).
import * as aws from '@pulumi/aws'
import * as pulumi from '@pulumi/pulumi'
import * as random from '@pulumi/random'
import { Concern } from './concern.js'
import type { StackConfig } from './config.js'
import { OPS_RESERVE_TAG } from './connection-budget.js'

export const DATABASE_NAME = 'whatsapp'
export const DATABASE_USER = 'whatsapp_admin'

export interface Database {
  instance: aws.rds.Instance
  parameterGroup: aws.rds.ParameterGroup
}

export function createDatabase(
  config: StackConfig,
  args: {
    subnetIds: pulumi.Input<string>[]
    securityGroupId: pulumi.Input<string>
    kmsKeyArn: pulumi.Input<string>
    password: pulumi.Output<string>
    secret: aws.secretsmanager.Secret
  },
): Database {
  const concern = new Concern('Database', config)
  const p = config.namePrefix
  const db = config.database
  const major = db.engineVersion.split('.')[0]
  const tags = { ...config.tags, Name: `${p}-postgres` }

  const subnetGroup = new aws.rds.SubnetGroup(
    `${p}-db-subnets`,
    {
      subnetIds: args.subnetIds,
      description: 'Database tier: no route out of the VPC',
      tags,
    },
    concern.child(),
  )
  const parameterGroup = new aws.rds.ParameterGroup(
    `${p}-postgres${major}`,
    {
      family: `postgres${major}`,
      description: `${p} PostgreSQL ${major}`,
      parameters: [
        // Absent: RDS's default for the class, which the connection budget (config.ts) estimates.
        ...(db.maxConnections === undefined
          ? []
          : [{ name: 'max_connections', value: String(db.maxConnections), applyMethod: 'pending-reboot' }]),
        { name: 'shared_preload_libraries', value: 'pg_stat_statements', applyMethod: 'pending-reboot' },
        { name: 'pg_stat_statements.track', value: 'all', applyMethod: 'pending-reboot' },
        { name: 'rds.force_ssl', value: '1', applyMethod: 'pending-reboot' },
        { name: 'log_min_duration_statement', value: '1000', applyMethod: 'immediate' },
      ],
      // Read by the policy pack's connection-budget rule, which has no access to the stack config.
      tags: { ...tags, [OPS_RESERVE_TAG]: String(db.opsReserveConnections) },
    },
    concern.child(),
  )

  // Unique per stack lifetime: a fixed identifier makes the second destroy fail (the snapshot exists).
  const finalSnapshotSuffix = new random.RandomId(
    `${p}-final-snapshot-suffix`,
    { byteLength: 4 },
    concern.child(),
  )
  const instance = new aws.rds.Instance(
    `${p}-postgres`,
    {
      identifier: `${p}-postgres`,
      engine: 'postgres',
      engineVersion: db.engineVersion,
      instanceClass: db.instanceClass,
      allocatedStorage: db.allocatedStorageGb,
      maxAllocatedStorage: db.maxAllocatedStorageGb,
      storageType: 'gp3',
      storageEncrypted: true,
      kmsKeyId: args.kmsKeyArn,
      multiAz: db.multiAz,
      dbName: DATABASE_NAME,
      username: DATABASE_USER,
      password: args.password,
      port: 5432,
      dbSubnetGroupName: subnetGroup.name,
      vpcSecurityGroupIds: [args.securityGroupId],
      parameterGroupName: parameterGroup.name,
      publiclyAccessible: false,
      deletionProtection: db.deletionProtection,
      backupRetentionPeriod: db.backupRetentionDays,
      // After the 02:00 logical backup so the two never compete for I/O.
      backupWindow: '03:00-03:30',
      maintenanceWindow: 'sun:04:00-sun:04:30',
      copyTagsToSnapshot: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: pulumi.interpolate`${p}-postgres-final-${finalSnapshotSuffix.hex}`,
      performanceInsightsEnabled: true,
      performanceInsightsKmsKeyId: args.kmsKeyArn,
      performanceInsightsRetentionPeriod: 7,
      enabledCloudwatchLogsExports: ['postgresql'],
      autoMinorVersionUpgrade: true,
      allowMajorVersionUpgrade: false,
      applyImmediately: false,
      caCertIdentifier: 'rds-ca-rsa2048-g1',
      tags,
    },
    concern.child({ protect: config.isProduction }),
  )

  // The connection URL lives next to the credentials so the task gets DATABASE_URL as one secret.
  new aws.secretsmanager.SecretVersion(
    `${p}-database-secret-version`,
    {
      secretId: args.secret.id,
      secretString: pulumi.jsonStringify({
        engine: 'postgres',
        username: DATABASE_USER,
        password: args.password,
        host: instance.address,
        port: instance.port,
        dbname: DATABASE_NAME,
        url: pulumi.interpolate`postgresql://${DATABASE_USER}:${args.password}@${instance.address}:${instance.port}/${DATABASE_NAME}?sslmode=require`,
      }),
    },
    concern.child(),
  )
  return { instance, parameterGroup }
}
