/** `relais start`: runs the relay until SIGTERM/SIGINT; SIGHUP reloads the YAML file. */
import type { Command } from 'commander';
import { createLogger } from '../log.js';
import type { Relais } from '../main.js';
import { configFrom, fail, withConfig } from './common.js';

export function registerStart(program: Command): void {
  withConfig(program.command('start').description('run the relay (SMTP intake, queue, delivery, admin API)')).action(async (opts: { config?: string }) => {
    let config;
    try {
      config = configFrom(opts);
    } catch (err) {
      fail(err);
    }
    const log = createLogger(config.log_level);
    let relais: Relais | undefined;
    let stopping = false;
    let stopRequested: string | undefined;
    let reloadRequested = false;
    const stop = (signal: string) => {
      if (stopping) return;
      if (!relais) {
        stopRequested = signal; // acted upon as soon as the start completes
        return;
      }
      stopping = true;
      log.info({ signal }, 'signal received');
      relais
        .stop()
        .then(() => {
          log.flush?.();
          process.exit(0);
        })
        .catch((err: unknown) => {
          log.error({ err }, 'error while stopping');
          process.exit(1);
        });
    };
    // Handlers are installed before the start: a signal arriving while listeners open must not
    // take the default action (terminate without draining).
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => (relais ? relais.reload() : (reloadRequested = true)));
    // A stray rejected promise must not take the exit node down with the sessions in flight;
    // it is logged loudly. An uncaught exception leaves unknown state: log, then exit (systemd
    // restarts the relay, the spool recovers).
    process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));
    process.on('uncaughtException', (err) => {
      log.fatal({ err }, 'uncaught exception, exiting');
      log.flush?.();
      process.exit(70);
    });
    try {
      // Loaded here, not at the top: other sub-commands start faster without the whole relay.
      const { startRelais } = await import('../main.js');
      relais = await startRelais(config, log);
    } catch (err) {
      log.fatal({ err: (err as Error).message }, 'relais failed to start');
      log.flush?.();
      fail(err);
    }
    if (stopRequested) stop(stopRequested);
    else if (reloadRequested) relais.reload();
  });
}
