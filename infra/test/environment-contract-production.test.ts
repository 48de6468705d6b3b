import { describeEnvironmentContract } from './support/environment-contract.js'

describeEnvironmentContract('production')
