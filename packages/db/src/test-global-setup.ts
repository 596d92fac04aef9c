import type { TestProject } from 'vitest/node';
import { startTestDatabaseServer } from './testing.ts';

export default async function setup(project: TestProject) {
  const server = await startTestDatabaseServer((line) => console.log(line));
  project.provide('databaseAdminUrl', server.adminUrl);
  return () => server.stop();
}
