/**
 * Composition root: builds every part from the configuration and wires the one-way flow
 * intake → policies → spool → delivery → outcomes → stats. Nothing else knows the whole.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createIntake, type Intake } from '../relay/intake/intake.js';
import { ACCEPT_ALL } from '../relay/intake/hooks.js';
import { loadTlsMaterial } from '../relay/intake/tls.js';
import { Spool } from '../relay/spool/spool.js';
import { ClientDirectory, ipInNetworks, toNets } from './clients/directory.js';
import { loadConfig, type RelaisConfig } from './config/config.js';
import { lockDataDir } from './data-dir.js';

export interface Relais {
  config: RelaisConfig;
  spool: Spool;
  intake: Intake;
  clients: ClientDirectory;
  /** Re-reads the YAML file; a bad file is refused (logged) and the old config kept. */
  reload(): boolean;
  stop(): Promise<void>;
}

export async function startRelais(config: RelaisConfig, log: Logger): Promise<Relais> {
  const unlock = lockDataDir(config.data_dir, `${config.api.listen.host}:${config.api.listen.port}`);
  try {
    const spool = await Spool.open({ dir: join(config.data_dir, 'spool'), log });
    const clients = new ClientDirectory(config.clients);
    const insecureNets = toNets(config.smtp.insecure_auth_networks);
    const tls = await loadTlsMaterial({ cert: config.smtp.tls.cert, key: config.smtp.tls.key, dataDir: config.data_dir, hostname: config.hostname });
    const intake = createIntake({
      options: {
        listeners: config.smtp.listeners.map((l) => ({
          name: l.name,
          host: l.listen.host,
          port: l.listen.port,
          starttls: l.starttls,
          implicitTls: l.implicit_tls,
          auth: l.auth,
          requireAuth: l.require_auth,
        })),
        limits: {
          hostname: config.hostname,
          maxMessageSize: config.smtp.max_message_size,
          maxRecipients: config.smtp.max_recipients,
          bareNewlines: config.smtp.bare_newlines,
        },
        tls,
        authRequiresTls: config.smtp.auth_requires_tls,
        insecureAuthAllowed: (ip) => ipInNetworks(ip, insecureNets),
        banner: config.smtp.banner,
        socketTimeoutMs: config.smtp.socket_timeout_ms,
        maxClients: config.smtp.max_clients,
        greetingDelayMs: config.smtp.greeting_delay_ms,
      },
      spool,
      clients,
      hooks: ACCEPT_ALL,
      log,
    });
    await intake.start();
    log.info({ dataDir: config.data_dir, smtp: intake.addresses(), tls: tls.selfSigned ? 'self-signed' : 'configured' }, 'relais started');

    const relais: Relais = {
      config,
      spool,
      intake,
      clients,
      reload() {
        if (!config.file) {
          log.warn('reload: no configuration file to re-read');
          return false;
        }
        try {
          const next = loadConfig({ file: config.file });
          clients.setConfigured(next.clients);
          relais.config = next;
          log.info({ file: config.file }, 'configuration reloaded');
          return true;
        } catch (err) {
          log.error({ file: config.file, reason: (err as Error).message }, 'configuration reload refused, keeping the previous one');
          return false;
        }
      },
      async stop() {
        log.info('relais stopping: intake closed, finishing transactions');
        await intake.stop(config.queue.shutdown_timeout_ms);
        unlock();
        log.info('relais stopped');
      },
    };
    return relais;
  } catch (err) {
    unlock();
    throw err;
  }
}
