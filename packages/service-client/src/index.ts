// What a client of a deployed service needs, shared by the smoke suite and the load tests: the target
// environment (base URL, keys, secrets; from flags, variables or an env file) and the timed HTTP call.
export * from './http-client.js'
export * from './target-env.js'
