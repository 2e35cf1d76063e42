#!/usr/bin/env node
// berth: the command line. `berth serve [config.yml]` runs the registry in the foreground;
// `berth config check FILE` validates a configuration file without serving.
import { Command } from 'commander';
import { pino } from 'pino';
import { createApp } from '../app.js';
import { ConfigError, loadConfig } from '../config/load.js';

const program = new Command();
program.name('berth').description('An OCI Distribution Spec v1.1 container registry').version('0.1.0');

program
  .command('serve')
  .description('serve the registry in the foreground')
  .argument('[config]', 'configuration file (distribution config.yml keys); REGISTRY_* environment variables override it')
  .action(async (file: string | undefined) => {
    const config = loadOrExit(file);
    const log = pino({ level: config.log.level, base: { pid: process.pid, ...config.log.fields } });
    const app = createApp(config, log);
    const address = await app.listen();
    log.info({ address: `${address.address}:${address.port}`, storage: config.storage.driver.kind, tls: config.http.tls !== undefined }, 'berth listening');
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'draining in-flight requests');
      app.close().then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

const configCommand = program.command('config').description('configuration tools');
configCommand
  .command('check')
  .description('validate a configuration file (and REGISTRY_* overrides) without serving')
  .argument('<file>', 'configuration file')
  .action((file: string) => {
    loadOrExit(file);
    process.stdout.write(`${file}: configuration is valid\n`);
  });

function loadOrExit(file: string | undefined): ReturnType<typeof loadConfig> {
  try {
    return loadConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`berth: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

await program.parseAsync(process.argv);
