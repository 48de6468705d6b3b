// The service's start commands inside its image, as the task definitions run them. Plain constants
// (no Pulumi import), so that the local target, its tests and the benchmarks run the same commands.

export const API_COMMAND = ['node', 'dist/server.js']
/**
 * The worker's V8 old-space ceiling: a quarter of its 512 MiB task (Pulumi.<stack>.yaml
 * `worker.memoryMiB`; raise both together). Without one, V8 grows the heap to well over 100 MB before
 * its first full collection while the live set stays near 40 MB (seen with --trace-gc under the pace
 * benchmark's 800 sends/s): the process then holds memory it does not use.
 */
export const WORKER_HEAP_MIB = 128
export const WORKER_COMMAND = ['node', `--max-old-space-size=${WORKER_HEAP_MIB}`, 'dist/worker.js']
/** The ops entry point: `node dist/ops/main.js <backup|verify-backup|restore|migrate|...>`. */
export const OPS_COMMAND_PREFIX = ['node', 'dist/ops/main.js']
