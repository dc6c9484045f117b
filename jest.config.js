/** Tests run as ESM (the @actions packages are ESM-only); ts-jest transpiles each file (isolatedModules in tsconfig), `tsc --noEmit` type-checks. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }]
  },
  testMatch: ['**/__tests__/**/*.test.ts'],
  testTimeout: 120000
}
