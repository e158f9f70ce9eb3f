/** Shapes of the Listmonk API objects Relais reads and writes (v4.1 to v6.2; see test/fixtures/listmonk). */

export interface ListmonkList {
  id: number;
  uuid: string;
  name: string;
  type: 'public' | 'private' | string;
  optin: 'single' | 'double' | string;
  tags?: string[];
  subscriber_count?: number;
  description?: string;
}

export interface NewList {
  name: string;
  type?: 'public' | 'private';
  optin?: 'single' | 'double';
  status?: 'active' | 'archived';
  tags?: string[];
  description?: string;
}

export interface Subscriber {
  id: number;
  uuid: string;
  email: string;
  name: string;
  status: string;
  lists?: Array<{ id: number; subscription_status: string; name?: string }>;
}

export interface NewSubscriber {
  email: string;
  name?: string;
  status?: 'enabled' | 'blocklisted';
  lists?: number[];
  attribs?: Record<string, unknown>;
  preconfirm_subscriptions?: boolean;
}

export interface NewCampaign {
  name: string;
  subject: string;
  lists: number[];
  from_email?: string;
  content_type?: 'richtext' | 'html' | 'markdown' | 'plain' | 'visual';
  type?: 'regular' | 'optin';
  body?: string;
  altbody?: string;
  tags?: string[];
  headers?: Array<Record<string, string>>;
  template_id?: number;
  messenger?: string;
}

export interface Campaign {
  id: number;
  uuid: string;
  name: string;
  subject: string;
  status: string;
  from_email?: string;
  content_type?: string;
  body?: string;
  altbody?: string | null;
  tags?: string[];
  lists?: Array<{ id: number; name: string }>;
}

export interface Media {
  id: number;
  uuid: string;
  filename: string;
  content_type?: string;
  url: string;
  thumb_url?: string;
}

export interface BounceEvent {
  email?: string;
  subscriber_uuid?: string;
  campaign_uuid?: string;
  type: 'hard' | 'soft' | 'complaint';
  source: string;
  meta?: unknown;
  created_at?: string;
}

export interface Page<T> {
  results: T[];
  total: number;
  page?: number;
  per_page?: number;
}

/** GET /api/profile (internal/auth/models.go User): role id 1 is Super Admin, which has every permission. */
export interface Profile {
  id: number;
  username: string;
  type?: string;
  user_role?: { id: number; name: string; permissions: string[] | null };
}
