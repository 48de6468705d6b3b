// Pulumi entry point: validated stack config in, stack outputs out. The outputs are this object's keys
// (Pulumi takes an ESM program's default export as its outputs); their list is src/stack-outputs.ts.
import { createInfrastructure, readStackConfig } from './src/program.js'

export default createInfrastructure(readStackConfig())
