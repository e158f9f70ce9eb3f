/**
 * SMTP replies as data (relay/delivery/reply.ts): reading a server's multi-line reply, and the
 * failures that had no reply (sockets, TLS, local limits) as 4xx replies with their phase. What
 * they mean (bounce or retry) is the classifier's: classify.unit.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DeliveryError, errorToFailure, formatReply, parseReply } from '../../relay/delivery/reply.js';

describe('parseReply', () => {
  it('joins a multi-line reply, taking the code and the enhanced code once', () => {
    expect(parseReply('550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 Please try double-checking.')).toEqual({
      code: 550,
      enhanced: '5.1.1',
      text: 'The email account that you tried to reach does not exist. Please try double-checking.',
    });
  });

  it('a reply without an enhanced code has none', () => {
    expect(parseReply('250 OK')).toEqual({ code: 250, text: 'OK' });
  });

  it('text that does not start with a reply code is not a reply', () => {
    expect(parseReply('Connection closed')).toBeNull();
    expect(parseReply('')).toBeNull();
  });

  it('formats back to one line', () => {
    expect(formatReply({ code: 421, enhanced: '4.7.0', text: 'Try again later' })).toBe('421 4.7.0 Try again later');
    expect(formatReply({ code: 250, text: '' })).toBe('250');
  });
});

describe('errorToFailure', () => {
  it('a server reply keeps the phase of the command it answered', () => {
    const f = errorToFailure({ response: '550 5.7.1 Rejected', command: 'RCPT TO', code: 'EENVELOPE', message: 'Recipient command failed' }, 'mail');
    expect(f).toBeInstanceOf(DeliveryError);
    expect(f).toMatchObject({ phase: 'rcpt', reply: { code: 550, enhanced: '5.7.1', text: 'Rejected' } });
  });

  it('a host that refuses to talk answers in the greeting phase (which the classifier defers, like Postfix)', () => {
    expect(errorToFailure({ response: '554 5.7.1 No service', command: 'GREETING' }, 'connect')).toMatchObject({ phase: 'greeting', reply: { code: 554 } });
  });

  it('a failure without a reply is a local temporary one: 4.4.1 at connect, 4.4.2 later, 4.7.5 for TLS', () => {
    expect(errorToFailure({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 192.0.2.1:25' }, 'connect')).toMatchObject({ phase: 'connect', reply: { code: 451, enhanced: '4.4.1' } });
    expect(errorToFailure({ code: 'ETIMEDOUT', command: 'DATA', message: 'Timeout' }, 'mail')).toMatchObject({ phase: 'data', reply: { code: 451, enhanced: '4.4.2' } });
    expect(errorToFailure({ code: 'ETLS', message: 'certificate has expired' }, 'tls')).toMatchObject({ phase: 'tls', reply: { code: 451, enhanced: '4.7.5' } });
    expect(errorToFailure(new Error('socket hang up'), 'data')).toMatchObject({ phase: 'data', reply: { code: 451 } });
  });
});
