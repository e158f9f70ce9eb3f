import { describe, expect, it } from 'vitest';
import { parseClassificationRules } from '../../config/classification.js';
import { loadClassifier, normalizeReply, type Phase, type Reason } from '../../src/stats/classify.js';

const classifier = loadClassifier();

type Row = [label: string, phase: Phase, reply: string, outcome: 'delivered' | 'deferred' | 'bounced', reason: Reason];

// Real replies as returned by the providers (IPs/addresses anonymised). The full multi-line text is
// passed as received: code and enhanced code are read from it.
const TABLE: Row[] = [
  // Gmail
  ['gmail unknown user', 'rcpt',
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550-5.1.1 unnecessary spaces. For more information, go to\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser 5a1b2c3d4e.12 - gsmtp",
    'bounced', 'invalid_recipient'],
  ['gmail unusual rate', 'data',
    '421-4.7.28 [192.0.2.25      15] Gmail has detected an unusual rate of unsolicited mail originating\n421-4.7.28 from your DKIM domain [example.org      30]. To protect our users from spam, mail sent\n421-4.7.28 from your IP address has been temporarily rate limited. For more information, go to\n421 4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError x1si - gsmtp',
    'deferred', 'spam_block'],
  ['gmail likely unsolicited', 'data',
    '550-5.7.1 [192.0.2.25      12] Our system has detected that this message is\n550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,\n550-5.7.1 this message has been blocked. For more information, go to\n550 5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError x1si - gsmtp',
    'bounced', 'spam_block'],
  ['gmail DMARC', 'data',
    "550-5.7.26 Unauthenticated email from example.org is not accepted due to domain's\n550-5.7.26 DMARC policy. Please contact the administrator of example.org domain if\n550-5.7.26 this was a legitimate mail. To learn about the DMARC initiative, go to\n550 5.7.26  https://support.google.com/mail/?p=DmarcRejection x1si - gsmtp",
    'bounced', 'authentication'],
  ['gmail unauthenticated', 'data',
    '550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail\n550-5.7.26 requires all senders to authenticate with either SPF or DKIM.\n550 5.7.26  Authentication results: DKIM = did not pass SPF [example.org] with ip: [192.0.2.25] = did not pass - gsmtp',
    'bounced', 'authentication'],
  ['gmail PTR', 'rcpt',
    '550-5.7.25 [192.0.2.25] The IP address sending this message does not have a\n550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not\n550-5.7.25 point to the sending IP. As a policy, Gmail does not accept messages\n550 5.7.25 from IPs with missing PTR records. - gsmtp',
    'bounced', 'authentication'],
  ['gmail over quota', 'rcpt',
    '452-4.2.2 The email account that you tried to reach is over quota. Please direct\n452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp',
    'deferred', 'mailbox_full'],
  ['gmail out of storage', 'rcpt',
    "452-4.2.2 The recipient's inbox is out of storage space. Please direct the\n452 4.2.2 recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
    'deferred', 'mailbox_full'],
  ['gmail receiving too fast', 'rcpt',
    '450-4.2.1 The user you are trying to contact is receiving mail at a rate that\n450 4.2.1 prevents additional messages from being delivered. https://support.google.com/mail/?p=ReceivingRate - gsmtp',
    'deferred', 'rate_limited'],
  ['gmail disabled account', 'rcpt',
    '550-5.2.1 The email account that you tried to reach is disabled. https://support.google.com/mail/?p=DisabledUser - gsmtp',
    'bounced', 'invalid_recipient'],
  ['gmail TLS required', 'rcpt', '421-4.7.0 TLS required for RCPT domain, closing connection. - gsmtp', 'deferred', 'tls'],
  ['gmail try later', 'connect', '421-4.7.0 Try again later, closing connection. (EHLO) - gsmtp', 'deferred', 'rate_limited'],
  // Microsoft
  ['outlook mailbox unavailable', 'rcpt',
    '550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [AM0PR01MB1234.eurprd01.prod.exchangelabs.com]',
    'bounced', 'invalid_recipient'],
  ['outlook S3150', 'mail',
    "550 5.7.1 Unfortunately, messages from [192.0.2.25] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [VI1EUR03FT012.eop-EUR03.prod.protection.outlook.com]",
    'bounced', 'blocklisted_ip'],
  ['outlook server busy', 'mail',
    '451 4.7.500 Server busy. Please try again later from [192.0.2.25]. (S77714) [DB5EUR03FT045.eop-EUR03.prod.protection.outlook.com]',
    'deferred', 'rate_limited'],
  ['o365 5.7.708', 'connect',
    '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653 AS(7230) [AM6EUR05FT011.eop-eur05.prod.protection.outlook.com]',
    'bounced', 'blocklisted_ip'],
  ['o365 5.7.606 banned IP', 'mail',
    '550 5.7.606 Access denied, banned sending IP [192.0.2.25]. To request removal from this list please visit https://sender.office.com/ and follow the directions.',
    'bounced', 'blocklisted_ip'],
  ['o365 DBEB', 'rcpt', '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB3EUR04FT021.eop-eur04.prod.protection.outlook.com]', 'bounced', 'invalid_recipient'],
  ['outlook IP reputation', 'mail', '451 4.7.650 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)', 'deferred', 'spam_block'],
  ['exchange quota', 'data', '554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded', 'bounced', 'mailbox_full'],
  // Orange
  ['orange OFR_999', 'connect', '421 mwinf5c77 ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_999 [999]', 'deferred', 'rate_limited'],
  ['orange OFR004_104 (550)', 'mail', '550 5.7.1 Service refuse. Veuillez essayer plus tard. service refused, please try later. OFR004_104 [104]', 'bounced', 'rate_limited'],
  ['orange too many connections', 'connect', '421 mwinf5c27 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]', 'deferred', 'rate_limited'],
  ['orange spam IP', 'connect', '550 mwinf5c14 ME Adresse IP source bloquee pour incident de spam. Client host blocked for spamming issues. OFR006_102 Ref http://csi.cloudmark.com/reset-request/?ip=192.0.2.25 [102]', 'bounced', 'blocklisted_ip'],
  ['orange unknown', 'rcpt', '550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]', 'bounced', 'invalid_recipient'],
  ['orange full', 'rcpt', '552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]', 'bounced', 'mailbox_full'],
  ['orange content', 'data', '550 5.2.0 Mail rejete. Mail rejected. ofr_506 [506]', 'bounced', 'spam_block'],
  // La Poste
  ['laposte blocked', 'data', '550 5.7.1 Service refuse. Veuillez essayer plus tard. service refused, please try later. LPN007_510 (in reply to end of DATA command)', 'bounced', 'blocklisted_ip'],
  ['laposte SPF', 'mail', '550 5.5.0 SPF: 192.0.2.25 is not allowed to send mail. LPN004_401', 'bounced', 'authentication'],
  ['laposte unknown', 'rcpt', '550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. LPN416 416', 'bounced', 'invalid_recipient'],
  ['laposte archived', 'rcpt', '550 550 5.1.1 Boite du destinataire archivee. Archived recipient. LPN004_420 [420]', 'bounced', 'invalid_recipient'],
  // Free
  ['free disabled', 'rcpt', '550 5.1.1 <someone@free.fr>: Recipient address rejected: Mailbox disabled', 'bounced', 'invalid_recipient'],
  ['free too many spams', 'connect', '421 4.7.0 Too many spams from your IP (192.0.2.25), please visit http://postmaster.free.fr/', 'deferred', 'spam_block'],
  ['free spam detected', 'data', '550 spam detected', 'bounced', 'spam_block'],
  ['free rDNS', 'connect', '421 Refused. Your reverse DNS entry does not resolve to an IP.', 'deferred', 'authentication'],
  // Yahoo / AOL
  ['yahoo TSS04', 'mail', '421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes', 'deferred', 'spam_block'],
  ['yahoo 5.7.9', 'data', '554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes', 'bounced', 'spam_block'],
  ['yahoo spamhaus BL21', 'connect', "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.25, because the ip is in Spamhaus's list; see http://postmaster.yahoo.com/550-bl23.html", 'bounced', 'blocklisted_ip'],
  ['yahoo mailbox disabled', 'rcpt', '554 30 Sorry, your message to someone@aol.com cannot be delivered. This mailbox is disabled (554.30)', 'bounced', 'invalid_recipient'],
  ['yahoo no account', 'rcpt', "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.ir2.yahoo.com", 'bounced', 'invalid_recipient'],
  ['yahoo unauthenticated', 'data', '550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.', 'bounced', 'authentication'],
  // Apple, GMX, Spamhaus, Postfix defaults
  ['icloud CS01', 'data', '554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137', 'bounced', 'spam_block'],
  ['gmx block listed', 'connect', '554-gmx.net (mxgmx017) Nemesis ESMTP Service not available\n554-No SMTP service\n554-IP address is block listed.\n554 For explanation visit https://www.gmx.net/mail/senderguidelines?c=bl', 'bounced', 'blocklisted_ip'],
  ['spamhaus zen', 'rcpt', '554 5.7.1 Service unavailable; Client host [192.0.2.25] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.25', 'bounced', 'blocklisted_ip'],
  ['postfix user unknown', 'rcpt', '550 5.1.1 <someone@example.net>: Recipient address rejected: User unknown in virtual mailbox table', 'bounced', 'invalid_recipient'],
  ['postgrey', 'rcpt', '450 4.2.0 <someone@example.net>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html', 'deferred', 'policy'],
  ['message too big', 'data', '552 5.3.4 Message size exceeds fixed limit', 'bounced', 'policy'],
  ['bare 5.1.1', 'rcpt', '550 5.1.1 Address rejected', 'bounced', 'invalid_recipient'],
  ['accepted', 'data', '250 2.0.0 OK  1700000000 x1si123 - gsmtp', 'delivered', 'none'],
];

describe('classification of real provider replies', () => {
  it.each(TABLE)('%s', (_label, phase, reply, outcome, reason) => {
    const c = classifier.classify({ phase, text: reply });
    expect({ outcome: c.outcome, reason: c.reason }).toEqual({ outcome, reason });
    if (outcome === 'bounced') expect(c.bounceKind).toBe('hard');
  });

  it('reads code and enhanced code from the multi-line text and joins it', () => {
    const c = classifier.classify({ phase: 'rcpt', text: TABLE[0]![2] });
    expect(c.code).toBe(550);
    expect(c.enhanced).toBe('5.1.1');
    expect(c.text).toMatch(/^The email account that you tried to reach does not exist\. Please try double-checking/);
    expect(c.ruleId).toBe('invalid-recipient');
  });

  it('prefers explicitly given code/enhanced over the text', () => {
    const c = classifier.classify({ phase: 'rcpt', code: 451, enhanced: '4.7.500', text: 'Server busy. Please try again later from [192.0.2.25]. (S77714)' });
    expect(c).toMatchObject({ outcome: 'deferred', reason: 'rate_limited', code: 451, enhanced: '4.7.500' });
  });

  it('does not take an IPv4 address for an enhanced status code', () => {
    expect(normalizeReply('Connection refused by 5.6.7.8 port 25').enhanced).toBeUndefined();
  });

  it('reports an expired deferral as a soft bounce', () => {
    const c = classifier.classify({ phase: 'mail', expired: true, text: '421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints' });
    expect(c).toMatchObject({ outcome: 'bounced', bounceKind: 'soft', reason: 'spam_block' });
  });

  it('classifies failures without an SMTP reply by phase', () => {
    expect(classifier.classify({ phase: 'dns', text: 'queryMx ENOTFOUND nowhere.invalid' })).toMatchObject({ outcome: 'bounced', bounceKind: 'hard', reason: 'dns' });
    expect(classifier.classify({ phase: 'dns', text: 'queryMx ESERVFAIL example.org' })).toMatchObject({ outcome: 'deferred', reason: 'dns' });
    expect(classifier.classify({ phase: 'connect', text: 'connect ECONNREFUSED 192.0.2.1:25' })).toMatchObject({ outcome: 'deferred', reason: 'connection' });
    expect(classifier.classify({ phase: 'tls', text: 'unable to verify the first certificate' })).toMatchObject({ outcome: 'deferred', reason: 'tls' });
    expect(classifier.classify({ phase: 'data', text: 'Connection closed unexpectedly' })).toMatchObject({ outcome: 'deferred', reason: 'connection' });
    expect(classifier.classify({ phase: 'data', code: 554, text: 'Transaction failed' })).toMatchObject({ outcome: 'bounced', reason: 'other' });
  });

  it('rejects invalid rule files naming the key', () => {
    expect(() => parseClassificationRules({ rules: [{ id: 'a', match: { text: '(' }, reason: 'spam_block' }] })).toThrow(/rules\[0\]\.match\.text: is not a valid regex/);
    expect(() => parseClassificationRules({ rules: [{ id: 'a', match: { text: 'x' }, reason: 'spam' }] })).toThrow(/rules\[0\]\.reason: must be one of/);
    expect(() => parseClassificationRules({ rules: [{ id: 'a', match: {}, reason: 'other' }] })).toThrow(/rules\[0\]\.match: needs/);
    expect(() => parseClassificationRules({ rules: [{ id: 'a', match: { txt: 'x' }, reason: 'other' }] })).toThrow(/rules\[0\]\.match\.txt: unknown key/);
  });
});
