import { type Config, ConfigError, loadConfig } from './config.js'
import { StartupError } from './db/redis.js'

/** loadConfig() for an entry point: a configuration error is printed as one line and exits 1. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}

/** Awaits an entry point's start: a StartupError is printed as one line and exits 1. */
export async function startOrExit<T>(starting: Promise<T>): Promise<T> {
  try {
    return await starting
  } catch (error) {
    if (error instanceof StartupError) {
      process.stderr.write(`startup error: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}
