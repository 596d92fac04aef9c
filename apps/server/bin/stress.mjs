// Entry point of `pnpm test:stress`: checks the Node version before anything TypeScript is loaded.
import './node-check.mjs';

await import('../src/stress/run.ts');
