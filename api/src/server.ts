import module from 'node:module'

// HTTP API entry point: `node dist/server.js` (or `tsx src/server.ts`). Node ≥ 22.1 keeps the
// compiled code of every module loaded after this call on disk (NODE_COMPILE_CACHE or the OS temp
// directory), so a restarted process skips most of the parsing and compiling of its dependencies;
// the import below comes after it for that reason. Elsewhere (Node 20) this is a no-op.
;(module as { enableCompileCache?: () => unknown }).enableCompileCache?.()
await import('./server-main.js')
