/** Public surface of the Listmonk bridge (the composition root imports from here). */
export { ListmonkClient, ListmonkError, displayUrl, type ListmonkConnection, type ClientOptions, type BounceEvent } from './client.js';
export { createRedirector, redirectText, type Redirector, type RedirectRequest, type RedirectVerdict, type RedirectorOptions, type BridgeWorker, type PendingDraft, type Logger } from './redirect.js';
export { type TenantListmonkConfig, senderListName } from './draft-job.js';
export { readDraftSource, buildDraft, DRAFT_MAX_BYTES, type MessageFileRef } from './draft.js';
export { createBounceFeedback, bounceEventKey, type BounceFeedback, type BounceFeedbackEvent, type PendingBounce } from './bounce-feedback.js';
export { parseReport, parseDsn, parseArf, classifyDsn, type Report, type DsnReport, type DsnRecipient, type ArfReport } from './reports.js';
export { makeReturnPath, parseReturnPath } from './verp.js';
export { checkListmonk, requiredPermissions, majorVersion, type CheckLine, type CheckResult, type Permission } from './check.js';
export { FailJob, fixFor, isPermanent, permissionFix, type Fix } from './errors.js';
export { decodeEncodedWords } from './mime-lite.js';
export { createInboundReports, type InboundReports, type InboundReportsDeps } from './inbound-reports.js';
export { reportDeliveryBounce } from './delivery-bounces.js';
