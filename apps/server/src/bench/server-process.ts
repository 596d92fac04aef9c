/**
 * The server under test, in a process of its own (run with `--cpu-prof` when the benchmark
 * profiles it). Configured by its environment like any deployment; answers `mark` with its
 * monotonic clock in microseconds, the clock V8's CPU profiles are timed on, so a profile can be
 * cut to the scenario that ran between two marks.
 */
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { startServer } from '../server.ts';
import { serveTasks } from './children.ts';

const config = loadConfig(process.env);
const server = await startServer(config, { log: createLogger(config.LOG_LEVEL) });

serveTasks({
  url: async () => server.url,
  mark: async () => Number(process.hrtime.bigint() / 1000n),
  exit: async () => {
    await server.stop();
  },
});
