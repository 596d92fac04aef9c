// Prints the OpenAPI document the server serves at /openapi.json, for tools that read it from a
// file (the linter in CI, code generators): node apps/server/bin/openapi.mjs [BASE_URL] > openapi.json
import './node-check.mjs';

const { openApiDocument } = await import('../src/openapi.ts');
process.stdout.write(`${JSON.stringify(openApiDocument(process.argv[2] ?? 'http://localhost:3000'), null, 2)}\n`);
