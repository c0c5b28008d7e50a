/**
 * Unit specs beside the code (src/**\/*.spec.ts); e2e suites under test/ on a real PostgreSQL;
 * the web client library's own specs (clients/web/test); browser suites in Chromium (test/browser).
 */
const swcTypeScript = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
// jose ships ESM only; jest's CommonJS runtime needs it transformed.
const swcEsm = ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }];

// The web client library (clients/web) is ESM TypeScript importing './x.js'; jest resolves './x'.
const esmRelativeImports = { '^(\\.{1,2}/.*)\\.js$': '$1' };

const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swcTypeScript, '/node_modules/jose/.+\\.js$': swcEsm },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
};

/** One PostgreSQL per run and a migrated template database that each test file clones. */
const database = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};

module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
    },
    {
      // SQL-heavy repositories on a cloned template database, without Nest or Apollo:
      // `npm run test:repo`, quick enough to run on every save.
      ...shared,
      ...database,
      displayName: 'repo',
      testMatch: ['<rootDir>/src/**/*.repo-spec.ts'],
    },
    {
      ...shared,
      ...database,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      slowTestThreshold: 30,
      moduleNameMapper: esmRelativeImports, // test/e2e/web-client uses the library's sources
    },
    {
      // Chromium (Debian's) driving the demo page, the explorer and CORS from a second origin.
      ...shared,
      ...database,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'],
      slowTestThreshold: 30,
    },
    {
      ...shared,
      displayName: 'client',
      testMatch: ['<rootDir>/clients/web/test/**/*.spec.ts'],
      moduleNameMapper: esmRelativeImports,
    },
  ],
  testTimeout: 60000,
};
