import { redact } from './redaction.js'

/** Where an ops command writes: human lines (stderr) and one final JSON line (stdout). */
export interface OpsIo {
  stderr(line: string): void
  stdout(line: string): void
}

export const processIo: OpsIo = {
  stderr: (line) => process.stderr.write(`${line}\n`),
  stdout: (line) => process.stdout.write(`${line}\n`),
}

/** Human progress lines of a command, redacted before they leave the process. */
export interface OpsLog {
  info(line: string): void
}

export class OpsOutput implements OpsLog {
  private readonly secrets: string[]

  constructor(
    private readonly io: OpsIo,
    secrets: readonly string[],
  ) {
    this.secrets = [...secrets]
  }

  /** A secret learnt while the command runs (e.g. a token read from a variable a flag names). */
  addSecret(value: string | undefined): void {
    if (value) this.secrets.push(value)
  }

  info(line: string): void {
    this.io.stderr(redact(line, this.secrets))
  }

  /** The one machine-readable line the pipeline parses (`OpsResult.result`). */
  result(value: object): void {
    this.io.stdout(redact(JSON.stringify(value), this.secrets))
  }
}
