/**
 * Composition root: builds every part from the configuration and wires the one-way flow
 * intake → policies → spool → delivery → outcomes → stats. Nothing else knows the whole.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { watchKeyChanges } from '../relay/dkim/index.js';
import { AuthGuard } from '../relay/intake/auth-guard.js';
import { createIntake, type Intake } from '../relay/intake/intake.js';
import { loadTlsMaterial } from '../relay/intake/tls.js';
import { Spool, type SpoolApi } from '../relay/spool/spool.js';
import { buildApiRoutes } from './api/routes/index.js';
import { buildApi } from './api/server.js';
import { ensureFirstAdminToken } from './api/tokens.js';
import { ClientDirectory, ipInNetworks, toNets } from './clients/directory.js';
import { loadConfig, type RelaisConfig } from './config/config.js';
import { lockDataDir, updateLock } from './data-dir.js';
import { Metrics } from './metrics.js';
import { createPolicyService, resolvePolicyConfig, type PolicyService } from '../policies/service/index.js';
import { createStatsAlerts, type StatsAlerts } from './stats/alerts.js';
import { parseAlertsConfig } from './stats/alerts-config.js';
import { loadReplyClassifier } from '../config/classification.js';
import { shapingAlerts } from './stats/shaping-alerts.js';
import { checkWarmupProviders, loadProviders, type ProviderCatalog } from '../config/providers.js';
import type { ReplyClassifier } from '../relay/delivery/classify.js';
import { createStatsQueries, type StatsQueries } from './stats/queries.js';
import { createStatsRecorder, type StatsRecorder } from './stats/recorder.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';
import { TenantDirectory } from './tenants/directory.js';
import { adminBounce, combineObservers, statsObserver } from './wiring/delivery.js';
import { startDeliveryThread, type DeliveryControl } from './wiring/delivery-worker.js';
import { createInboundReports } from '../listmonk-bridge/index.js';
import { createDmarcReports } from '../relay/reports/inbound.js';
import { combineReports } from './wiring/reports.js';
import { createReputation, type Reputation } from './wiring/reputation.js';
import { createIntakeHooks } from './wiring/intake-hooks.js';
import { createListmonkBridge, type ListmonkBridge } from './wiring/listmonk.js';
import { createNoticeSender } from './wiring/notices.js';

/** Everything the admin API and the CLI's offline mode need. */
export interface Services {
  config: RelaisConfig;
  log: Logger;
  store: Store;
  spool: SpoolApi;
  tenants: TenantDirectory;
  policy: PolicyService;
  providers: ProviderCatalog;
  classifier: ReplyClassifier;
  queries: StatsQueries;
  alerts: StatsAlerts;
  recorder: StatsRecorder;
  metrics: Metrics;
  listmonk: ListmonkBridge;
  sendBounce: ReturnType<typeof adminBounce>;
  /** DMARC/TLS reports and block lists. */
  reputation: Reputation;
}

export interface Relais extends Services {
  intake: Intake;
  api: FastifyInstance;
  delivery: DeliveryControl;
  /** Re-reads the YAML file; a bad file is refused (logged) and the old config kept. */
  reload(): boolean;
  stop(): Promise<void>;
}

type Cleanup = () => Promise<unknown> | unknown;

/**
 * Opens the shared parts (store, spool, tenants, policies, stats, bridge) without any listener.
 * `lazyStore`: start even when Redis is down (mail is tempfailed until it is back); the CLI's
 * offline mode leaves it off and fails fast instead.
 */
export async function openServices(config: RelaisConfig, log: Logger, cleanups: Cleanup[], opts: { metrics?: Metrics; lazyStore?: boolean; spool?: SpoolApi } = {}): Promise<Services> {
  // Data files are validated before anything listens: a bad file fails the start.
  const providers = loadProviders(config.delivery.providers_file);
  checkWarmupProviders(config.delivery.pools, providers);
  const classifier = loadReplyClassifier(config.stats.classification_file);
  const alertsConfig = parseAlertsConfig(config.alerts);
  const policyConfig = resolvePolicyConfig(config.policies);
  const store = await openStore({ redisUrl: config.store.redis_url, dataDir: config.data_dir, prefix: config.store.prefix, lazy: opts.lazyStore });
  if (opts.lazyStore) await store.ping().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'store unreachable at start: mail is tempfailed until it is back'));
  cleanups.push(() => store.close());
  const spool = opts.spool ?? (await Spool.open({ dir: join(config.data_dir, 'spool'), log }));
  cleanups.push(() => spool.close());
  const tenants = await TenantDirectory.create({
    store,
    seed: { tenants: config.tenants, clients: config.clients },
    onError: (err) => log.warn({ err: (err as Error).message }, 'tenants: store unavailable, serving the last known directory'),
  });
  cleanups.push(() => tenants.close());
  const policy = createPolicyService({ store, tenants, config: policyConfig, recordVerdicts: false });
  cleanups.push(() => policy.close());
  const recorder = createStatsRecorder({ store, retentionDays: config.stats.retention_days, log });
  cleanups.push(() => recorder.close());
  const queries = createStatsQueries({ store, providers });
  const reputation = createReputation({ config, store, tenants, log });
  const alerts = createStatsAlerts({ store, queries, config: alertsConfig, log, sources: reputation.alertSources });
  const metrics = opts.metrics ?? new Metrics({ queueCounts: () => spool.counts(), smtpSessions: () => 0, smtpTransactions: () => 0 });
  const listmonk = createListmonkBridge({ store, tenants, log, dataDir: join(config.data_dir, 'listmonk'), retry: { firstMs: config.listmonk.retry_first_ms, maxMs: config.listmonk.retry_max_ms } });
  return { config, log, store, spool, tenants, policy, providers, classifier, queries, alerts, recorder, metrics, listmonk, sendBounce: adminBounce(spool, config.hostname), reputation };
}

export async function startRelais(config: RelaisConfig, log: Logger): Promise<Relais> {
  const cleanups: Cleanup[] = [];
  const runCleanups = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err: unknown) => log.error({ err }, 'cleanup failed'));
  };
  cleanups.push(lockDataDir(config.data_dir, `${config.api.listen.host}:${config.api.listen.port}`));
  try {
    let intakeRef: Intake | undefined;
    const spoolCounts = { fn: (): Record<string, number> => ({}) };
    const metrics = new Metrics({ queueCounts: () => spoolCounts.fn(), smtpSessions: () => intakeRef?.sessions() ?? 0, smtpTransactions: () => intakeRef?.activeTransactions() ?? 0 });
    // The delivery thread owns the queue: it recovers the spool before anything is accepted.
    const thread = await startDeliveryThread(config, log);
    cleanups.push(() => thread.close());
    const s = await openServices(config, log, cleanups, { metrics, lazyStore: true, spool: thread.spool });
    const { store, spool, tenants } = s;
    spoolCounts.fn = () => spool.counts();
    spool.on('queued', () => metrics.accepted.inc());
    // Store down at start: no key-change notifications; cached keys then expire within their TTL.
    const unwatchKeys = await watchKeyChanges(store).catch((err: unknown) => {
      log.warn({ err: (err as Error).message }, 'dkim: key change notifications unavailable (store down)');
      return async () => undefined;
    });
    cleanups.push(unwatchKeys);

    const { classifier } = s;
    const blocklist = shapingAlerts(store, config.hostname, log);
    s.alerts.addSource(blocklist.list);
    thread.setObserver(combineObservers([statsObserver({ providers: s.providers, recorder: s.recorder, metrics }), s.listmonk.observer, { onShaping: blocklist.onShaping }]));
    const delivery = thread.delivery;

    const clients = new ClientDirectory(tenants);
    const insecureNets = toNets(config.smtp.insecure_auth_networks);
    const tls = await loadTlsMaterial({ cert: config.smtp.tls.cert, key: config.smtp.tls.key, dataDir: config.data_dir, hostname: config.hostname });
    const sendNotice = createNoticeSender(spool, config.hostname);
    const hooks = createIntakeHooks({
      policy: s.policy,
      tenants,
      store,
      redirector: s.listmonk.redirector,
      recorder: s.recorder,
      metrics,
      log,
      dkim: { masterKey: config.dkim.master_key, operatorDomain: config.dkim.operator_domain },
      bounceDomain: config.listmonk.bounce_domain,
      reports: config.listmonk.bounce_domain
        ? combineReports([
          createInboundReports({ store, feedback: s.listmonk.feedback, log, bounceDomain: config.listmonk.bounce_domain, postmasterForward: config.listmonk.postmaster_forward, maxReportSize: config.smtp.max_report_size }),
          createDmarcReports({ bounceDomain: config.listmonk.bounce_domain, config: config.dmarc, recorder: s.reputation.recorder, counter: metrics.reports, log }),
        ])
        : undefined,
      sendNotice: async (to, subject, text) => {
        await sendNotice(to, subject, text);
      },
      sessions: () => intakeRef?.sessions() ?? 0,
    });
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
          inbound: l.inbound,
          pool: l.pool,
        })),
        limits: {
          hostname: config.hostname,
          maxMessageSize: config.smtp.max_message_size,
          maxHeaderSize: config.smtp.max_header_size,
          maxReportSize: config.smtp.max_report_size,
          maxRecipients: config.smtp.max_recipients,
          bareNewlines: config.smtp.bare_newlines,
        },
        tls,
        authRequiresTls: config.smtp.auth_requires_tls,
        insecureAuthAllowed: (ip) => ipInNetworks(ip, insecureNets),
        authGuard: new AuthGuard({
          failuresPerAddress: config.smtp.auth_failures_per_address,
          failuresPerUser: config.smtp.auth_failures_per_user,
          failuresPerConnection: 3,
          windowMs: config.smtp.auth_failure_window_ms,
          coolOffMs: config.smtp.auth_cooloff_ms,
        }),
        onAuthResult: (result) => metrics.auth.inc({ result }),
        banner: config.smtp.banner,
        socketTimeoutMs: config.smtp.socket_timeout_ms,
        maxClients: config.smtp.max_clients,
        greetingDelayMs: config.smtp.greeting_delay_ms,
      },
      spool,
      clients,
      hooks,
      log,
    });
    intakeRef = intake;

    const api = await buildApi({
      store,
      log,
      envAdminToken: config.api.admin_token,
      rateLimitPerMinute: config.api.rate_limit_per_minute,
      ...buildApiRoutes({ ...s, delivery }),
    });
    cleanups.push(() => api.close());

    delivery.start();
    cleanups.push(() => delivery.stop({ timeoutMs: config.queue.shutdown_timeout_ms }));
    s.listmonk.start();
    cleanups.push(() => s.listmonk.stop());
    s.alerts.start();
    cleanups.push(() => s.alerts.stop());
    s.reputation.dnsbl.start();
    cleanups.push(() => s.reputation.dnsbl.stop());
    await intake.start();
    cleanups.push(() => intake.stop(config.queue.shutdown_timeout_ms));
    await api.listen({ host: config.api.listen.host, port: config.api.listen.port });
    const apiAddr = api.server.address();
    const apiPort = typeof apiAddr === 'object' && apiAddr ? apiAddr.port : config.api.listen.port;
    updateLock(config.data_dir, `${config.api.listen.host}:${apiPort}`);

    // With api.admin_token set the operator already has a way in: no second secret on stderr.
    const firstToken = config.api.admin_token ? null : await ensureFirstAdminToken(store).catch(() => null);
    if (firstToken) {
      // Printed once, on stderr and not in the JSON log, so log shipping never carries it.
      process.stderr.write(`\nRelais: first admin API token (shown once, keep it safe):\n  ${firstToken}\n\n`);
    }
    log.info({ dataDir: config.data_dir, store: store.kind, smtp: intake.addresses(), api: { host: config.api.listen.host, port: apiPort }, tls: tls.selfSigned ? 'self-signed' : 'configured' }, 'relais started');

    const relais: Relais = {
      ...s,
      intake,
      api,
      delivery,
      reload() {
        if (!relais.config.file) {
          log.warn('reload: no configuration file to re-read');
          return false;
        }
        try {
          const next = loadConfig({ file: relais.config.file });
          tenants.setSeed({ tenants: next.tenants, clients: next.clients });
          relais.config = next;
          log.info({ file: next.file }, 'configuration reloaded');
          return true;
        } catch (err) {
          log.error({ file: relais.config.file, reason: (err as Error).message }, 'configuration reload refused, keeping the previous one');
          return false;
        }
      },
      async stop() {
        log.info('relais stopping: intake closed, finishing transactions and deliveries');
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
