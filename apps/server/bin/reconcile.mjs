// Entry point of `pnpm reconcile`: checks the Node version before anything TypeScript is loaded.
import './node-check.mjs';

await import('../src/payments/reconcile-cli.ts');
