/** The Received header Relais prepends (RFC 5321 §4.4), with the queue id for tracing. */
export interface ReceivedInfo {
  helo?: string;
  clientHostname?: string;
  clientAddress: string;
  hostname: string;
  tls: boolean;
  authenticated: boolean;
  queueId: string;
  recipients: string[];
  date: Date;
}

export function receivedHeader(r: ReceivedInfo): string {
  const proto = `ESMTP${r.tls ? 'S' : ''}${r.authenticated ? 'A' : ''}`;
  const rdns = r.clientHostname && r.clientHostname !== `[${r.clientAddress}]` ? `${r.clientHostname} ` : '';
  const helo = (r.helo || 'unknown').replace(/[^\x21-\x7e]/g, '');
  const forClause = r.recipients.length === 1 ? `\r\n\tfor <${r.recipients[0]}>` : '';
  return `Received: from ${helo} (${rdns}[${r.clientAddress}])\r\n\tby ${r.hostname} (Relais) with ${proto} id ${r.queueId}${forClause};\r\n\t${r.date.toUTCString().replace('GMT', '+0000')}\r\n`;
}
