"""Reference canonicalisation (python3-dkim). stdin: JSON {"bodies": [b64...], "headers": [b64...]}
stdout: JSON {"relaxed": [...], "simple": [...], "headers": [...]} (base64)."""
import base64
import json
import sys

from dkim.canonicalization import Relaxed, Simple

req = json.load(sys.stdin)
bodies = [base64.b64decode(b) for b in req["bodies"]]
out = {
    "relaxed": [base64.b64encode(Relaxed.canonicalize_body(b)).decode() for b in bodies],
    "simple": [base64.b64encode(Simple.canonicalize_body(b)).decode() for b in bodies],
    "headers": [],
}
for h in req["headers"]:
    raw = base64.b64decode(h)
    name, value = raw.split(b":", 1)
    [(n, v)] = Relaxed.canonicalize_headers([(name, value)])
    out["headers"].append(base64.b64encode(n + b":" + v).decode())
print(json.dumps(out))
