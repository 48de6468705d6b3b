import { describeStack } from './support/stack-assertions.js'

describeStack('production', {
  natGateways: 2,
  databaseMultiAz: true,
  minTasks: 2,
  maxTasks: 10,
  workerTasks: 2,
  syntheticGraph: false,
  protectedInProduction: true,
})
