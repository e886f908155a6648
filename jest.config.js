/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] },
  testEnvironment: 'node',
  globalSetup: '<rootDir>/test/harness/global-setup.ts',
  globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
  // Every answer the harness receives is checked against the OpenAPI description.
  setupFilesAfterEnv: ['<rootDir>/test/harness/openapi-check.setup.ts'],
  // Two cores: two workers, and FerretDB's pool budget is shared by every client.
  maxWorkers: 2,
  testTimeout: 60000,
};
