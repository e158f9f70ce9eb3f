export { TenantDirectory, DirectorySnapshot, TENANT_NS, CLIENT_NS, CHANGE_CHANNEL, type TenantDirectoryOptions } from './directory.js';
export { validateSeed, parseTenant, parseClient, ConfigError, type Seed } from './validate.js';
export { substituteEnv } from './env.js';
export type { TenantConfig, TenantView, ClientConfig, ClientView, ListmonkSettings, MailboxSettings } from './types.js';
