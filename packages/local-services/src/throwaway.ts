import { rmSync } from 'node:fs'

// A throwaway server (a temp directory, started for one test file or benchmark) must not outlive the
// process that started it, even when that process ends without calling stop(): a hook that timed out
// before it could keep the server, an uncaught error, a test runner ending its worker. The servers are
// daemons (pg_ctl start, redis daemonize), so nothing ends them with their parent. At exit, each one still
// registered gets its shutdown signal and its temp directory is removed. Only throwaway servers are
// registered: one with a given directory (the local target's) outlives the process by design.

interface Throwaway {
  /** The server's pid now (read from its pid file), undefined when it is not running. */
  pid(): number | undefined
  signal: NodeJS.Signals
}

const live = new Map<string, Throwaway>()
let hooked = false

function endAll(): void {
  for (const [tempRoot, server] of live) {
    try {
      const pid = server.pid()
      if (pid !== undefined) process.kill(pid, server.signal)
    } catch {
      // gone already
    }
    rmSync(tempRoot, { recursive: true, force: true })
  }
  live.clear()
}

/** Ends the server at process exit unless the returned function (call it from stop()) is called first. */
export function endAtExit(tempRoot: string, server: Throwaway): () => void {
  if (!hooked) {
    hooked = true
    process.once('exit', endAll)
  }
  live.set(tempRoot, server)
  return () => {
    live.delete(tempRoot)
  }
}
