export { MissingBinaryError, postgresBinDir, requireBinary } from './binaries.js'
export { freePort, waitForPort } from './ports.js'
export { type PostgresOptions, type PostgresServer, startPostgres } from './postgres.js'
export { type RedisOptions, type RedisServer, startRedis } from './redis.js'
