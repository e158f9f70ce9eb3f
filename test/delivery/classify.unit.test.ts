/**
 * The reply classifier (config/classification.yaml through relay/delivery/classify.ts) on real
 * provider replies quoted in providers' documentation and public logs, its permanence rules, and
 * the validator of the data file. The public corpus test is reply-corpus.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadReplyClassifier, parseClassification } from '../../config/classification.js';
import { readReply } from '../../relay/delivery/reply.js';
import type { ReplyCategory } from '../../relay/delivery/reply-class.js';
import type { Phase } from '../../relay/delivery/types.js';

const classifier = loadReplyClassifier();

type Row = [label: string, phase: Phase, reply: string, permanent: boolean, category: ReplyCategory];

// Real replies as returned by the providers (IPs/addresses anonymised). The full multi-line text is
// passed as received: code and enhanced code are read from it.
const TABLE: Row[] = [
  // Gmail
  ['gmail unknown user', 'rcpt',
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550-5.1.1 unnecessary spaces. For more information, go to\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser 5a1b2c3d4e.12 - gsmtp", true, 'invalid_recipient'],
  ['gmail unusual rate', 'data',
    '421-4.7.28 [192.0.2.25      15] Gmail has detected an unusual rate of unsolicited mail originating\n421-4.7.28 from your DKIM domain [example.org      30]. To protect our users from spam, mail sent\n421-4.7.28 from your IP address has been temporarily rate limited. For more information, go to\n421 4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError x1si - gsmtp', false, 'reputation_block'],
  ['gmail likely unsolicited', 'data',
    '550-5.7.1 [192.0.2.25      12] Our system has detected that this message is\n550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,\n550-5.7.1 this message has been blocked. For more information, go to\n550 5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError x1si - gsmtp', true, 'spam_content'],
  ['gmail DMARC', 'data',
    "550-5.7.26 Unauthenticated email from example.org is not accepted due to domain's\n550-5.7.26 DMARC policy. Please contact the administrator of example.org domain if\n550-5.7.26 this was a legitimate mail. To learn about the DMARC initiative, go to\n550 5.7.26  https://support.google.com/mail/?p=DmarcRejection x1si - gsmtp", true, 'authentication'],
  ['gmail unauthenticated', 'data',
    '550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail\n550-5.7.26 requires all senders to authenticate with either SPF or DKIM.\n550 5.7.26  Authentication results: DKIM = did not pass SPF [example.org] with ip: [192.0.2.25] = did not pass - gsmtp', true, 'authentication'],
  ['gmail PTR', 'rcpt',
    '550-5.7.25 [192.0.2.25] The IP address sending this message does not have a\n550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not\n550-5.7.25 point to the sending IP. As a policy, Gmail does not accept messages\n550 5.7.25 from IPs with missing PTR records. - gsmtp', true, 'authentication'],
  ['gmail over quota', 'rcpt',
    '452-4.2.2 The email account that you tried to reach is over quota. Please direct\n452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp', false, 'mailbox_full'],
  ['gmail out of storage', 'rcpt',
    "452-4.2.2 The recipient's inbox is out of storage space. Please direct the\n452 4.2.2 recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp", false, 'mailbox_full'],
  ['gmail receiving too fast', 'rcpt',
    '450-4.2.1 The user you are trying to contact is receiving mail at a rate that\n450 4.2.1 prevents additional messages from being delivered. https://support.google.com/mail/?p=ReceivingRate - gsmtp', false, 'rate_limited'],
  ['gmail disabled account', 'rcpt',
    '550-5.2.1 The email account that you tried to reach is disabled. https://support.google.com/mail/?p=DisabledUser - gsmtp', true, 'invalid_recipient'],
  ['gmail TLS required', 'rcpt', '421-4.7.0 TLS required for RCPT domain, closing connection. - gsmtp', false, 'tls'],
  ['gmail try later', 'connect', '421-4.7.0 Try again later, closing connection. (EHLO) - gsmtp', false, 'rate_limited'],
  // Microsoft
  ['outlook mailbox unavailable', 'rcpt',
    '550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [AM0PR01MB1234.eurprd01.prod.exchangelabs.com]', true, 'invalid_recipient'],
  ['outlook S3150', 'mail',
    "550 5.7.1 Unfortunately, messages from [192.0.2.25] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [VI1EUR03FT012.eop-EUR03.prod.protection.outlook.com]", true, 'blocklisted_ip'],
  ['outlook server busy', 'mail',
    '451 4.7.500 Server busy. Please try again later from [192.0.2.25]. (S77714) [DB5EUR03FT045.eop-EUR03.prod.protection.outlook.com]', false, 'rate_limited'],
  ['o365 5.7.708', 'connect',
    '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653 AS(7230) [AM6EUR05FT011.eop-eur05.prod.protection.outlook.com]', false, 'reputation_block'],
  ['o365 5.7.606 banned IP', 'mail',
    '550 5.7.606 Access denied, banned sending IP [192.0.2.25]. To request removal from this list please visit https://sender.office.com/ and follow the directions.', true, 'blocklisted_ip'],
  ['o365 DBEB', 'rcpt', '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB3EUR04FT021.eop-eur04.prod.protection.outlook.com]', true, 'invalid_recipient'],
  ['outlook IP reputation', 'mail', '451 4.7.650 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)', false, 'reputation_block'],
  ['exchange quota', 'data', '554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded', false, 'mailbox_full'],
  // Orange
  ['orange OFR_999', 'connect', '421 mwinf5c77 ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_999 [999]', false, 'reputation_block'],
  ['orange OFR004_104 (550)', 'mail', '550 5.7.1 Service refuse. Veuillez essayer plus tard. service refused, please try later. OFR004_104 [104]', false, 'rate_limited'],
  ['orange too many connections', 'connect', '421 mwinf5c27 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]', false, 'rate_limited'],
  ['orange spam IP', 'connect', '550 mwinf5c14 ME Adresse IP source bloquee pour incident de spam. Client host blocked for spamming issues. OFR006_102 Ref http://csi.cloudmark.com/reset-request/?ip=192.0.2.25 [102]', false, 'blocklisted_ip'],
  ['orange unknown', 'rcpt', '550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]', true, 'invalid_recipient'],
  ['orange full', 'rcpt', '552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]', false, 'mailbox_full'],
  ['orange content', 'data', '550 5.2.0 Mail rejete. Mail rejected. ofr_506 [506]', true, 'spam_content'],
  // La Poste
  ['laposte blocked', 'data', '550 5.7.1 Service refuse. Veuillez essayer plus tard. service refused, please try later. LPN007_510 (in reply to end of DATA command)', true, 'blocklisted_ip'],
  ['laposte SPF', 'mail', '550 5.5.0 SPF: 192.0.2.25 is not allowed to send mail. LPN004_401', true, 'authentication'],
  ['laposte unknown', 'rcpt', '550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. LPN416 416', true, 'invalid_recipient'],
  ['laposte archived', 'rcpt', '550 550 5.1.1 Boite du destinataire archivee. Archived recipient. LPN004_420 [420]', true, 'invalid_recipient'],
  // Free
  ['free disabled', 'rcpt', '550 5.1.1 <someone@free.fr>: Recipient address rejected: Mailbox disabled', true, 'invalid_recipient'],
  ['free too many spams', 'connect', '421 4.7.0 Too many spams from your IP (192.0.2.25), please visit http://postmaster.free.fr/', false, 'reputation_block'],
  ['free spam detected', 'data', '550 spam detected', true, 'spam_content'],
  ['free rDNS', 'connect', '421 Refused. Your reverse DNS entry does not resolve to an IP.', false, 'authentication'],
  // Yahoo / AOL
  ['yahoo TSS04', 'mail', '421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes', false, 'reputation_block'],
  ['yahoo 5.7.9', 'data', '554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes', true, 'authentication'],
  ['yahoo spamhaus BL21', 'connect', "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.25, because the ip is in Spamhaus's list; see http://postmaster.yahoo.com/550-bl23.html", false, 'blocklisted_ip'],
  ['yahoo mailbox disabled', 'rcpt', '554 30 Sorry, your message to someone@aol.com cannot be delivered. This mailbox is disabled (554.30)', true, 'invalid_recipient'],
  ['yahoo no account', 'rcpt', "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.ir2.yahoo.com", true, 'invalid_recipient'],
  ['yahoo unauthenticated', 'data', '550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.', true, 'authentication'],
  // Apple, GMX, Spamhaus, Postfix defaults
  ['icloud CS01', 'data', '554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137', true, 'policy'],
  ['gmx block listed', 'connect', '554-gmx.net (mxgmx017) Nemesis ESMTP Service not available\n554-No SMTP service\n554-IP address is block listed.\n554 For explanation visit https://www.gmx.net/mail/senderguidelines?c=bl', false, 'blocklisted_ip'],
  ['spamhaus zen', 'rcpt', '554 5.7.1 Service unavailable; Client host [192.0.2.25] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.25', true, 'blocklisted_ip'],
  ['postfix user unknown', 'rcpt', '550 5.1.1 <someone@example.net>: Recipient address rejected: User unknown in virtual mailbox table', true, 'invalid_recipient'],
  ['postgrey', 'rcpt', '450 4.2.0 <someone@example.net>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html', false, 'policy'],
  ['message too big', 'data', '552 5.3.4 Message size exceeds fixed limit', true, 'message_too_large'],
  ['bare 5.1.1', 'rcpt', '550 5.1.1 Address rejected', true, 'invalid_recipient'],
];

describe('one classification of real provider replies', () => {
  it.each(TABLE)('%s', (_label, phase, reply, permanent, category) => {
    expect(classifier.classify({ phase, text: reply })).toMatchObject({ category, permanent });
  });

  it('gives scope, provider, rule and a fix quoting the delisting URL of the reply', () => {
    const c = classifier.classify({
      phase: 'rcpt',
      provider: 'microsoft',
      text: '550 5.7.606 Access denied, banned sending IP [198.51.100.222]. To request removal from this list please visit https://sender.office.com/ and follow the directions.',
    });
    expect(c).toMatchObject({ category: 'blocklisted_ip', permanent: true, scope: 'provider', provider: 'microsoft', rule: 'microsoft-banned-ip' });
    expect(c.fix?.en).toContain('https://sender.office.com/');
    expect(c.fix?.fr).toContain('https://sender.office.com/');
  });

  it('says which 5xx are temporary (full mailbox, hourly limit) and never makes a 4xx permanent', () => {
    expect(classifier.classify({ phase: 'rcpt', text: '552 5.2.2 Mailbox full' })).toMatchObject({ category: 'mailbox_full', permanent: false, scope: 'recipient' });
    expect(classifier.classify({ phase: 'rcpt', text: '550 This IP has sent too many messages this hour. IB504' })).toMatchObject({ category: 'rate_limited', permanent: false });
    expect(classifier.classify({ phase: 'rcpt', text: '450 4.1.1 <a@example.org>: Recipient address rejected: User unknown in virtual alias table' })).toMatchObject({ category: 'invalid_recipient', permanent: false });
  });

  it('recognises DNS and connection failures whatever the phase, permanent only for a domain that does not exist', () => {
    expect(classifier.classify({ phase: 'rcpt', text: 'Host or domain name not found. Name service error for name=example.invalid type=A: Host not found' })).toMatchObject({ category: 'dns', permanent: true });
    expect(classifier.classify({ phase: 'dns', code: 550, enhanced: '5.1.2', text: 'Domain nowhere.invalid does not exist (NXDOMAIN)' })).toMatchObject({ category: 'dns', permanent: true });
    expect(classifier.classify({ phase: 'dns', code: 556, enhanced: '5.1.10', text: 'Domain example.org does not accept mail (null MX, RFC 7505)' })).toMatchObject({ category: 'dns', permanent: true });
    expect(classifier.classify({ phase: 'dns', code: 451, enhanced: '4.4.3', text: 'DNS lookup of MX for example.org failed: ESERVFAIL' })).toMatchObject({ category: 'dns', permanent: false });
    expect(classifier.classify({ phase: 'rcpt', text: 'connect to mx.example.org[192.0.2.1]:25: Connection timed out' })).toMatchObject({ category: 'connection', permanent: false });
    expect(classifier.classify({ phase: 'connect', code: 451, enhanced: '4.4.1', text: 'connect ECONNREFUSED 192.0.2.1:25' })).toMatchObject({ category: 'connection', permanent: false });
    expect(classifier.classify({ phase: 'tls', code: 451, enhanced: '4.7.5', text: 'TLS failure: unable to verify the first certificate' })).toMatchObject({ category: 'tls', permanent: false });
  });

  it('defers what a host says before the transaction (greeting, STARTTLS, AUTH), whatever the code', () => {
    const text = '554 5.7.1 Service unavailable; Client host [192.0.2.25] blocked using zen.spamhaus.org';
    expect(classifier.classify({ phase: 'greeting', text })).toMatchObject({ category: 'blocklisted_ip', permanent: false });
    expect(classifier.classify({ phase: 'rcpt', text })).toMatchObject({ category: 'blocklisted_ip', permanent: true });
    expect(classifier.classify({ phase: 'auth', code: 535, enhanced: '5.7.8', text: 'authentication failed' })).toMatchObject({ permanent: false });
  });

  it('knows Microsoft 4.7.650/4.7.651 reputation throttles and S3150 block list, Gmail 4.7.28, Yahoo TSS04', () => {
    expect(classifier.classify({ phase: 'mail', text: '451 4.7.651 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation. (S3114)' })).toMatchObject({ category: 'reputation_block', permanent: false, scope: 'provider' });
    expect(classifier.classify({ phase: 'rcpt', text: "550 5.7.1 Unfortunately, messages from [192.0.2.25] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)." })).toMatchObject({ category: 'blocklisted_ip', rule: 'microsoft-s3150-block-list' });
    expect(classifier.classify({ phase: 'rcpt', text: '421 4.7.28 Gmail has detected an unusual rate of mail originating from your IP address' })).toMatchObject({ category: 'reputation_block', permanent: false });
    expect(classifier.classify({ phase: 'mail', text: '421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints' })).toMatchObject({ category: 'reputation_block', permanent: false });
  });

  it('matches rules on the provider when they name one', () => {
    const c = parseClassification({
      categories: Object.fromEntries(['invalid_recipient', 'mailbox_full', 'message_too_large', 'spam_content', 'reputation_block', 'blocklisted_ip', 'authentication', 'rate_limited', 'policy', 'tls', 'dns', 'connection', 'other'].map((k) => [k, { scope: 'message' }])),
      rules: [{ id: 'only-google', match: { provider: 'google', code: 421 }, category: 'rate_limited' }],
    });
    expect(c.rules[0]!.match.provider).toEqual(['google']);
  });

  it('reads code, enhanced code and text of a multi-line reply once', () => {
    expect(readReply(TABLE[0]![2])).toMatchObject({ code: 550, enhanced: '5.1.1' });
    expect(readReply(TABLE[0]![2]).text).toMatch(/^The email account that you tried to reach does not exist\. Please try double-checking/);
    expect(readReply('Connection refused by 5.6.7.8 port 25').enhanced).toBeUndefined();
    expect(readReply('Le serveur a répondu : 5.2.0 Taille limite')).toMatchObject({ enhanced: '5.2.0' });
  });

  it('rejects invalid classification files naming the key', () => {
    const categories = Object.fromEntries(['invalid_recipient', 'mailbox_full', 'message_too_large', 'spam_content', 'reputation_block', 'blocklisted_ip', 'authentication', 'rate_limited', 'policy', 'tls', 'dns', 'connection', 'other'].map((k) => [k, { scope: 'message' }]));
    expect(() => parseClassification({ categories, rules: [{ id: 'a', match: { text: '(' }, category: 'policy' }] })).toThrow(/rules\[0\]\.match\.text: is not a valid regex/);
    expect(() => parseClassification({ categories, rules: [{ id: 'a', match: { text: 'x' }, category: 'spam' }] })).toThrow(/rules\[0\]\.category: must be one of/);
    expect(() => parseClassification({ categories, rules: [{ id: 'a', match: {}, category: 'other' }] })).toThrow(/rules\[0\]\.match: needs/);
    expect(() => parseClassification({ categories, rules: [{ id: 'a', match: { txt: 'x' }, category: 'other' }] })).toThrow(/rules\[0\]\.match\.txt: unknown key/);
    expect(() => parseClassification({ categories: { ...categories, dns: undefined }, rules: [] })).toThrow(/categories\.dns: is required/);
    expect(() => parseClassification({ categories: { ...categories, tls: { scope: 'planet' } }, rules: [] })).toThrow(/categories\.tls\.scope: must be one of/);
  });
});
