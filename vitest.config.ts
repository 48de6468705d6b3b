import { defineConfig } from 'vitest/config'

// One runner for the whole repository: every workspace is a project, so `npm test` runs them all.
export default defineConfig({
  test: {
    projects: ['api', 'infra', 'ci', 'smoke', 'loadtests'].map((name) => ({
      extends: true,
      test: { name, root: `./${name}`, include: ['test/**/*.test.ts'] },
    })),
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
})
