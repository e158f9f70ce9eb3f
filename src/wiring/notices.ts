/**
 * Notices Relais writes itself (e.g. "your mailbox was put on hold"): a plain text message from
 * postmaster@<hostname> with the null sender, queued like any other mail (kind "notice", never
 * bounced, so no loops).
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Envelope } from '../../relay/spool/envelope.js';
import type { SpoolApi } from '../../relay/spool/spool.js';

export function createNoticeSender(spool: SpoolApi, hostname: string) {
  return async (to: string[], subject: string, text: string): Promise<string | null> => {
    const rcpts = [...new Set(to.map((t) => t.toLowerCase()).filter(Boolean))];
    if (!rcpts.length) return null;
    const raw = await new MailComposer({
      from: `Relais <postmaster@${hostname}>`,
      to: rcpts,
      subject,
      text,
      headers: { 'Auto-Submitted': 'auto-generated' },
    })
      .compile()
      .build();
    const w = await spool.createWriter();
    w.end(raw);
    const now = Date.now();
    const env: Envelope = {
      id: w.id,
      rev: 0,
      state: 'active',
      from: '',
      recipients: rcpts.map((address) => ({ address, status: 'pending', attempts: 0 })),
      receivedAt: now,
      size: raw.length,
      client: { name: 'relais', address: '127.0.0.1', tls: false },
      kind: 'notice',
      subject,
      nextAttemptAt: now,
      attempts: [],
    };
    await spool.commit(w, env);
    return w.id;
  };
}
