/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpile only: type checking is `npm run typecheck`, and it keeps the suite fast.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
  },
  // type-graphql's decorators need the metadata polyfill before any model module loads.
  setupFiles: ['reflect-metadata'],
  // Records the shape of every query the service sends; global teardown checks each has an index.
  setupFilesAfterEnv: ['<rootDir>/test/setup/record-queries.ts'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 30_000,
  // Each test file gets a fresh module registry, so mongoose's default connection is per file.
  maxWorkers: 2,
};
