export { createPolicyService, type PolicyService, type PolicyServiceOptions, type QuotaTarget } from './service.js';
export { resolvePolicyConfig, DEFAULT_POLICY_CONFIG, type PolicyConfig } from './config.js';
export { VERDICT_STATS_PREFIX, verdictStatsKey, verdictStatsField } from './stats.js';
export type { LimitUsage } from './quota.js';
