import type { EgressMode } from '../../src/config.js'
import { readStackFile } from '../../src/stack-file.js'

/** Raw config override that switches a stack to another egress mode. */
export function egressOverride(stack: string, egressMode: EgressMode): Record<string, string> {
  const network = JSON.parse(readStackFile(stack)['whatsapp-saas:network']!) as Record<string, unknown>
  return { 'whatsapp-saas:network': JSON.stringify({ ...network, egressMode }) }
}
