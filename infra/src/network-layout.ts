// Address plan and endpoint list, apart from the Pulumi resources so the cost model can read them
// without loading the AWS SDK.
export const VPC_CIDR = '10.0.0.0/16'
export const PUBLIC_CIDRS = ['10.0.1.0/24', '10.0.2.0/24'] as const
export const PRIVATE_CIDRS = ['10.0.11.0/24', '10.0.12.0/24'] as const
export const DATABASE_CIDRS = ['10.0.21.0/24', '10.0.22.0/24'] as const
/**
 * Interface endpoints the tasks need when there is no NAT: image pull, secrets, logs. No `kms`: the app
 * never calls KMS itself (S3 SSE-KMS and Secrets Manager decrypt server-side). No `sts`: task-role
 * credentials come from the ECS agent, not from STS calls made inside the VPC.
 */
export const INTERFACE_ENDPOINT_SERVICES = ['ecr.api', 'ecr.dkr', 'secretsmanager', 'logs'] as const
