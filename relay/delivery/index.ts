export { createDelivery, type CreateDeliveryInput, type Delivery, type DeliveryStats } from './create-delivery.js';
export type {
  AttemptEvent,
  DeliveryObserver,
  DeliveryOptions,
  OutboundAddress,
  Outcome,
  Phase,
  ProviderCatalog,
  ProviderInfo,
  ShapingPreset,
  RecipientEvent,
  SmarthostOptions,
  SmarthostTls,
} from './types.js';
export type { ReplyClassifier, ReplyInput } from './classify.js';
export type { ReplyCategory, ReplyClass, ReplyFix, ReplyScope } from './reply-class.js';
export { DEFAULT_POOL, type RestrictionView, type ShaperEvent, type WarmupView } from './shaper.js';
export type { AutomationConfig, AutomationRule, WarmupSchedule } from './shaping-types.js';
