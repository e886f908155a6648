const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] };

/**
 * Two projects: `unit` needs no server (pure rules, ports with in-memory fakes) and runs in
 * seconds with `npx jest --selectProjects unit`; `integration` is everything else (integration,
 * end-to-end and fault tests) against real servers started once by the global setup.
 * `npx jest` runs both.
 * @type {import('jest').Config}
 */
module.exports = {
  rootDir: __dirname,
  // Two cores: two workers, and FerretDB's pool budget is shared by every client.
  maxWorkers: 2,
  // A global option (jest ignores it inside a project): the integration tests need it.
  testTimeout: 60000,
  projects: [
    {
      displayName: 'unit',
      rootDir: __dirname,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
    {
      displayName: 'integration',
      rootDir: __dirname,
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['<rootDir>/test/unit/'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
      globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
      // Every answer the harness receives is checked against the OpenAPI description.
      setupFilesAfterEnv: ['<rootDir>/test/harness/openapi-check.setup.ts'],
    },
  ],
};
