// first: on a Node too old for the rest, say so instead of failing somewhere inside
import '../bin/node-check.mjs';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startServer } from './server.ts';

// `.env` beside the repository root (or the working directory) is loaded when present.
for (const candidate of [path.resolve('.env'), path.resolve(import.meta.dirname, '../../../.env')]) {
  if (existsSync(candidate)) {
    process.loadEnvFile(candidate);
    break;
  }
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) console.error(`Configuration error: ${problem}`);
    process.exit(1);
  }
  throw error;
}

const log = createLogger(config.LOG_LEVEL);
const running = await startServer(config, { log }).catch((error: unknown) => {
  // the reason in the line itself, so it reads without a JSON viewer (and with no error object at all)
  const reason = error instanceof Error ? error.message : String(error);
  log.fatal({ err: error }, `failed to start: ${reason}`);
  process.exit(1);
});

const { admin } = running;
const adminHint =
  admin.passwordSource === 'env' ? 'password from ADMIN_PASSWORD' : `password is "adminPassword" in ${admin.file}`;
console.log(
  [
    '',
    `Boxoffice is listening on ${running.url}`,
    `  API reference:  ${running.url}/docs   (OpenAPI: ${running.url}/openapi.json)`,
    `  Database:       ${running.databaseSource === 'embedded' ? `embedded PostgreSQL, data in ${path.resolve(config.DATA_DIR)}` : 'DATABASE_URL'}`,
    `  Admin sign-in:  ${admin.email} (${adminHint})`,
    `  Mail:           ${running.deps.mail.describe}`,
    `  Check-in page:  ${running.url}/checkin`,
    '  Stop with Ctrl+C.',
    '',
  ].join('\n'),
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    log.error('shutdown took too long; exiting');
    process.exit(1);
  }, 15_000);
  force.unref();
  await running.stop();
  log.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
