/**
 * Composition root: builds every part from the configuration and wires the one-way flow
 * intake → policies → spool → delivery → outcomes → stats. Nothing else knows the whole.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createIntake, type Intake } from '../relay/intake/intake.js';
import { ACCEPT_ALL } from '../relay/intake/hooks.js';
import { loadTlsMaterial } from '../relay/intake/tls.js';
import { Spool } from '../relay/spool/spool.js';
import { buildApi } from './api/server.js';
import { ensureFirstAdminToken } from './api/tokens.js';
import { healthRoutes } from './api/routes/health.js';
import { queueRoutes } from './api/routes/queue.js';
import { tokenRoutes } from './api/routes/tokens.js';
import { ClientDirectory, ipInNetworks, toNets } from './clients/directory.js';
import { loadConfig, type RelaisConfig } from './config/config.js';
import { lockDataDir, updateLock } from './data-dir.js';
import { Metrics } from './metrics.js';
import { openStore } from './store/open.js';
import { createStatsAlerts, type StatsAlerts } from './stats/alerts.js';
import { parseAlertsConfig } from './stats/alerts-config.js';
import { loadClassifier, type Classifier } from './stats/classify.js';
import { loadProviders, type ProviderCatalog } from './stats/providers.js';
import { createStatsQueries } from './stats/queries.js';
import { createStatsRecorder, type StatsRecorder } from './stats/recorder.js';
import { statsRoutes } from './api/routes/stats.js';
import type { Delivery } from '../relay/delivery/index.js';
import { adminBounce, buildDelivery, combineObservers, statsObserver } from './wiring/delivery.js';
import type { Store } from './store/types.js';

export interface Relais {
  config: RelaisConfig;
  store: Store;
  spool: Spool;
  intake: Intake;
  api: FastifyInstance;
  clients: ClientDirectory;
  providers: ProviderCatalog;
  classifier: Classifier;
  recorder: StatsRecorder;
  alerts: StatsAlerts;
  delivery: Delivery;
  /** Re-reads the YAML file; a bad file is refused (logged) and the old config kept. */
  reload(): boolean;
  stop(): Promise<void>;
}

type Cleanup = () => Promise<void> | void;

export async function startRelais(config: RelaisConfig, log: Logger): Promise<Relais> {
  const cleanups: Cleanup[] = [];
  const runCleanups = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err: unknown) => log.error({ err }, 'cleanup failed'));
  };
  const unlock = lockDataDir(config.data_dir, `${config.api.listen.host}:${config.api.listen.port}`);
  cleanups.push(unlock);
  try {
    // Data files are validated before anything listens: a bad file fails the start.
    const providers = loadProviders(config.delivery.providers_file);
    const classifier = loadClassifier(config.stats.classification_file);
    const alertsConfig = parseAlertsConfig(config.alerts);
    const store = await openStore({ redisUrl: config.store.redis_url, dataDir: config.data_dir, prefix: config.store.prefix });
    cleanups.push(() => store.close());
    const spool = await Spool.open({ dir: join(config.data_dir, 'spool'), log });
    const clients = new ClientDirectory(config.clients, store);
    await clients.refresh().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'clients: store unavailable, using the YAML clients'));
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

    const recorder = createStatsRecorder({ store, retentionDays: config.stats.retention_days, log });
    cleanups.push(() => recorder.close());
    const queries = createStatsQueries({ store, providers });
    const alerts = createStatsAlerts({ store, queries, config: alertsConfig, log });
    alerts.start();
    cleanups.push(() => alerts.stop());

    const metrics = new Metrics({ queueCounts: () => spool.counts(), smtpSessions: () => intake.sessions(), smtpTransactions: () => intake.activeTransactions() });
    spool.on('queued', () => metrics.accepted.inc());

    const delivery = buildDelivery({ config, spool, log, providers, observer: combineObservers([statsObserver({ providers, classifier, recorder, metrics })]) });
    const sendBounce = adminBounce(spool, config.hostname);

    const api = await buildApi({
      store,
      log,
      envAdminToken: config.api.admin_token,
      rateLimitPerMinute: config.api.rate_limit_per_minute,
      publicRoutes: [{ plugin: healthRoutes as never, opts: { store, spoolDir: spool.root, dnsServers: config.dns.servers, metrics } }],
      routes: [
        { plugin: tokenRoutes as never, opts: { store } },
        { plugin: queueRoutes as never, opts: { spool, sendBounce } },
        { plugin: statsRoutes as never, opts: { queries, alerts, queueCounts: (tenant?: string) => countQueue(spool, tenant) } },
      ],
    });
    cleanups.push(() => api.close());

    delivery.start();
    cleanups.push(() => delivery.stop({ timeoutMs: config.queue.shutdown_timeout_ms }));
    await intake.start();
    cleanups.push(() => intake.stop(config.queue.shutdown_timeout_ms));
    await api.listen({ host: config.api.listen.host, port: config.api.listen.port });
    const apiAddr = api.server.address();
    const apiPort = typeof apiAddr === 'object' && apiAddr ? apiAddr.port : config.api.listen.port;
    updateLock(config.data_dir, `${config.api.listen.host}:${apiPort}`);

    const firstToken = await ensureFirstAdminToken(store).catch(() => null);
    if (firstToken) {
      // Printed once, on stderr and not in the JSON log, so log shipping never carries it.
      process.stderr.write(`\nRelais: first admin API token (shown once, keep it safe):\n  ${firstToken}\n\n`);
    }
    log.info({ dataDir: config.data_dir, store: store.kind, smtp: intake.addresses(), api: { host: config.api.listen.host, port: apiPort }, tls: tls.selfSigned ? 'self-signed' : 'configured' }, 'relais started');

    const relais: Relais = {
      config,
      store,
      spool,
      intake,
      api,
      clients,
      providers,
      classifier,
      recorder,
      alerts,
      delivery,
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
        await runCleanups();
        log.info('relais stopped');
      },
    };
    return relais;
  } catch (err) {
    await runCleanups();
    throw err;
  }
}

function countQueue(spool: Spool, tenant?: string): { active: number; deferred: number; hold: number } {
  if (tenant === undefined) return spool.counts();
  const c = { active: 0, deferred: 0, hold: 0 };
  for (const e of spool.list()) if (e.tenant === tenant) c[e.state]++;
  return c;
}
