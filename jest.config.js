/** ESM-only packages the server imports (openid-client's graph), as a path segment pattern. */
const ESM_PACKAGES = '(openid-client|oauth4webapi|jose)';

/** Shared by both projects. */
const base = {
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpile only: type checking is `npm run typecheck`, and it keeps the suite fast.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
    // openid-client and the packages it imports are ES modules only. Node loads them from the
    // compiled server through require(esm), but jest's module registry runs CommonJS only, so
    // these (and nothing else in node_modules) are compiled to CommonJS for the tests.
    [`/node_modules/${ESM_PACKAGES}/.+\\.js$`]: ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
  },
  transformIgnorePatterns: [`/node_modules/(?!${ESM_PACKAGES}/)`],
  // type-graphql's decorators need the metadata polyfill before any model module loads.
  setupFiles: ['reflect-metadata'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30_000,
  // Each test file gets a fresh module registry, so mongoose's default connection is per file.
  maxWorkers: 2,
  projects: [
    // No I/O: no database, no servers (`npm run test:unit` runs these alone, in seconds).
    { ...base, displayName: 'unit', roots: ['<rootDir>/test/unit'] },
    {
      ...base,
      displayName: 'integration',
      roots: ['<rootDir>/test/integration'],
      // Records the shape of every query the service sends; global teardown checks each has an index.
      setupFilesAfterEnv: ['<rootDir>/test/setup/record-queries.ts'],
      // The database engine and the Redis binary, once for the run.
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
