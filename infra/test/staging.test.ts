import { describeStack } from './support/stack-assertions.js'

describeStack('staging', {
  natGateways: 1,
  databaseMultiAz: false,
  minTasks: 2,
  maxTasks: 4,
  workerTasks: 1,
  syntheticGraph: true,
  protectedInProduction: false,
})
