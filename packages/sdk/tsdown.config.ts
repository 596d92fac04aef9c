import { defineConfig } from 'tsdown';

export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  outDir: 'dist',
  clean: true,
  // nothing here runs on import, and an import whose bindings are unused (zod's, in the types) is dropped
  treeshake: { moduleSideEffects: false },
  inputOptions: { checks: { pluginTimings: false } },
  // tsconfig.build.json resolves @boxoffice/contracts to its source, so its declarations are generated
  dts: { tsconfig: 'tsconfig.build.json' },
  deps: {
    // the contracts' types are written into the declaration file (zod's are tree-shaken away: the
    // client's types use none); the server's are never read, see src/router.ts
    dts: { alwaysBundle: ['@boxoffice/contracts'], neverBundle: ['zod'] },
    // the build fails if the output (code or types) imports anything else
    onlyImport: ['@trpc/client', '@trpc/server'],
  },
});
