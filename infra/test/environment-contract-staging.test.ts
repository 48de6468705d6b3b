import { describeContractCheck, describeEnvironmentContract } from './support/environment-contract.js'

describeEnvironmentContract('staging')
describeContractCheck()
