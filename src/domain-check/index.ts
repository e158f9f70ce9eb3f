export { checkDomain, overallStatus } from './check-domain.js';
export type { CheckName, CheckStatus, DomainCheckOptions, ExpectedDkimRecord, Finding } from './types.js';
