import { type Config, ConfigError, loadConfig } from './config.js'

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
