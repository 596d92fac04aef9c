import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type DevSecrets = { jwtSecret: string; refreshKey: string; adminPassword: string };

/**
 * Development convenience: secrets that were not configured are generated once and kept in the
 * data folder (mode 600), so restarts keep sessions valid. Production refuses to start without them.
 */
export async function loadOrCreateDevSecrets(dataDir: string): Promise<DevSecrets> {
  const file = path.join(path.resolve(dataDir), 'secrets.json');
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as DevSecrets;
  const secrets: DevSecrets = {
    jwtSecret: randomBytes(48).toString('base64url'),
    refreshKey: randomBytes(48).toString('base64url'),
    adminPassword: randomBytes(12).toString('base64url'),
  };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

export function devSecretsPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'secrets.json');
}
