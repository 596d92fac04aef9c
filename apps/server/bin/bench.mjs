// Entry point of `pnpm bench`: checks the Node version before anything TypeScript is loaded.
import './node-check.mjs';

await import('../src/bench/run.ts');
