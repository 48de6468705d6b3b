import type { OpsFailureDetails } from './reports.js'

/**
 * An expected refusal or failure of an ops command: its message is the one line the operator
 * sees, and `details` go into the final JSON line (e.g. the exact restore command).
 */
export class OpsError extends Error {
  constructor(
    message: string,
    readonly details: OpsFailureDetails = {},
  ) {
    super(message)
    this.name = 'OpsError'
  }
}
