// One ComponentResource per concern of the program (network, database, cache, compute, ...), so that
// `pulumi preview` shows the stack as a tree: each create* function builds its resources under one.
// Names and tags shared by every concern come from the validated config (`namePrefix`, `tags`).
import * as pulumi from '@pulumi/pulumi'
import type { StackConfig } from './config.js'

/** The component types of the program (`whatsapp-saas:infra:<Concern>`). */
export type ConcernName =
  | 'Network'
  | 'InterfaceEndpoints'
  | 'Keys'
  | 'SecurityGroups'
  | 'Secrets'
  | 'Database'
  | 'Cache'
  | 'Storage'
  | 'ImageRepository'
  | 'LoadBalancer'
  | 'WorkloadBoundary'
  | 'TaskRoles'
  | 'Compute'
  | 'SyntheticGraph'
  | 'Autoscaling'
  | 'BackupSchedule'
  | 'BackupAlerts'
  | 'DeployAccess'
  | 'CiAccess'
  | 'ReleaseEvidenceAccess'
  | 'Monitoring'
  | 'CostControls'

export const CONCERN_TYPE_PREFIX = 'whatsapp-saas:infra:'

/**
 * Resources created before the program had components were children of the stack itself. Moving one under
 * a component changes its URN, which Pulumi would execute as delete + create (an RDS instance, a KMS key, a
 * bucket). The alias names the URN it had at the root, so an existing stack sees no change.
 */
export const ROOT_ALIAS: pulumi.Alias = { parent: pulumi.rootStackResource }

export class Concern extends pulumi.ComponentResource {
  constructor(concern: ConcernName, config: StackConfig) {
    const kebab = concern.replace(
      /[A-Z]/g,
      (letter, index: number) => `${index === 0 ? '' : '-'}${letter.toLowerCase()}`,
    )
    super(`${CONCERN_TYPE_PREFIX}${concern}`, `${config.namePrefix}-${kebab}`, {}, {})
  }

  /** Options of a resource of this concern: parented here, aliased to its URN at the stack root. */
  child<T extends pulumi.CustomResourceOptions>(opts?: T): T & { parent: Concern } {
    return { ...(opts as T), parent: this, aliases: [...(opts?.aliases ?? []), ROOT_ALIAS] }
  }
}
