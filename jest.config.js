// Native ESM jest: the webtorrent-family modules are ESM-only. swc strips types; tsc type-checks.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { swcrc: false, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  moduleNameMapper: {
    '^@spritzle/(engine|server)$': '<rootDir>/packages/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 60000,
  // Two workers on the 2-core CI machine: most test files wait on sockets and child processes (libtorrent,
  // daemons, chromium), so two at once keep both cores busy and the run within its ten minutes.
  maxWorkers: 2,
  collectCoverageFrom: ['packages/*/src/**/*.ts'],
};
