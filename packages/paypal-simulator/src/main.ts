import { readStandaloneConfig, StandaloneConfigError, startStandalone } from './standalone.ts';

// `pnpm --filter @boxoffice/paypal-simulator start`; settings in standalone.ts and the package README.
let config: ReturnType<typeof readStandaloneConfig>;
try {
  config = readStandaloneConfig(process.env);
} catch (error) {
  if (error instanceof StandaloneConfigError) {
    for (const problem of error.problems) console.error(`Configuration error: ${problem}`);
    process.exit(1);
  }
  throw error;
}

const simulator = await startStandalone(config).catch((error: unknown) => {
  console.error('PayPal simulator failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  // close() stops listening, lets requests finish and writes the state file
  await simulator.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
