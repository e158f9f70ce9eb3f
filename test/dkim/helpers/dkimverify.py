"""Independent DKIM verifier for tests: dkimpy (python3-dkim), public keys fetched by a real DNS
query (dnspython) to the test DNS server. Usage: dkimverify.py HOST PORT < message
Prints JSON: [{"d":..., "s":..., "ok": bool, "error": str|null}, ...] for every DKIM-Signature."""
import json
import logging
import sys

import dkim
import dns.resolver
import dns.rdatatype

host, port = sys.argv[1], int(sys.argv[2])
res = dns.resolver.Resolver(configure=False)
res.nameservers = [host]
res.port = port
res.lifetime = 5


def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode('ascii')
    try:
        answer = res.resolve(name, dns.rdatatype.TXT, raise_on_no_answer=False, lifetime=timeout)
    except dns.resolver.NXDOMAIN:
        return None
    for rrset in answer.response.answer:
        if rrset.rdtype == dns.rdatatype.TXT:
            return b"".join(list(rrset.items)[0].strings)
    return None


message = sys.stdin.buffer.read()
logging.disable(logging.CRITICAL)
d = dkim.DKIM(message, logger=logging.getLogger('quiet'))
count = sum(1 for (k, _) in d.headers if k.lower() == b'dkim-signature')
out = []
for idx in range(count):
    v = dkim.DKIM(message, logger=logging.getLogger('quiet'))
    entry = {"ok": False, "error": None, "d": None, "s": None}
    try:
        entry["ok"] = bool(v.verify(idx=idx, dnsfunc=dnsfunc))
    except Exception as e:  # report, the test asserts
        entry["error"] = "%s: %s" % (type(e).__name__, e)
    if v.domain is not None:
        entry["d"] = v.domain.decode('ascii', 'replace')
    if v.selector is not None:
        entry["s"] = v.selector.decode('ascii', 'replace')
    out.append(entry)
print(json.dumps(out))
