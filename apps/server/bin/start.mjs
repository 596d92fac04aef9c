// Entry point: checks the Node version before anything TypeScript is loaded (see node-check.mjs).
import './node-check.mjs';

await import('../src/main.ts');
