/** Self-hosted entry point: `npm start`. */
import { ConfigError, parseConfig } from './config';
import { startNodeServer } from './hosts/node-host';

try {
  const config = parseConfig(process.env);
  const server = await startNodeServer(config);
  console.log(`hastic server listening on ${server.url.replace('127.0.0.1', 'localhost')}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.close().then(() => process.exit(0));
    });
  }
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
