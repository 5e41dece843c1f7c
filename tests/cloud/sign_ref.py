#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""The independent implementation the signer tests compare against: each vendor's recipe
written with Python's hmac, hashlib, base64 and urllib, as the vendors' own samples do.

Reads one JSON case per line on stdin; writes per case one line of the expected outputs,
tab-separated in the order each function returns them (the inputs hold no tab or newline)."""
import base64
import hashlib
import hmac
import json
import sys
from urllib.parse import quote_plus, urlencode

HASH = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}


def mac_hex(method, key, text):
    return hmac.new(key, text.encode(), HASH[method]).hexdigest()


def aliyun(c):
    ts = str(c["timestamp_ms"])
    content = "clientId%sdeviceName%sproductKey%stimestamp%s" % (
        c["client_id"], c["device_name"], c["product_key"], ts)
    return {
        "client_id": "%s|securemode=%d,signmethod=hmac%s,timestamp=%s|" % (
            c["client_id"], c["securemode"], c["method"], ts),
        "username": "%s&%s" % (c["device_name"], c["product_key"]),
        "password": mac_hex(c["method"], c["device_secret"].encode(), content),
    }


def azure(c):
    # Microsoft's sample generate_sas_token: sign quote_plus(uri), then urlencode the fields.
    uri = "%s/devices/%s" % (c["host"], c["device_id"])
    expiry = c["now_s"] + c["ttl_s"]
    to_sign = "%s\n%d" % (quote_plus(uri), expiry)
    sig = base64.b64encode(hmac.new(base64.b64decode(c["key_b64"]), to_sign.encode(),
                                    hashlib.sha256).digest())
    token = "SharedAccessSignature " + urlencode({"sr": uri, "sig": sig, "se": str(expiry)})
    return {"token": token,
            "username": "%s/%s/?api-version=2021-04-12" % (c["host"], c["device_id"])}


def tencent(c):
    expiry = c["now_s"] + c["ttl_s"]
    username = "%s%s;%s;%s;%d" % (c["product_id"], c["device_name"], c["sdkappid"],
                                  c["connid"], expiry)
    key = base64.b64decode(c["psk_b64"])
    return {"username": username,
            "password": "%s;hmac%s" % (mac_hex(c["method"], key, username), c["method"])}


def onenet(c):
    expiry = c["now_s"] + c["ttl_s"]
    res = "products/%s/devices/%s" % (c["product_id"], c["device_name"])
    text = "%d\n%s\n%s\n%s" % (expiry, c["method"], res, "2018-10-31")
    sign = base64.b64encode(hmac.new(base64.b64decode(c["key_b64"]), text.encode(),
                                     HASH[c["method"]]).digest()).decode()
    token = "version=2018-10-31&res=%s&et=%d&method=%s&sign=%s" % (
        quote_plus(res), expiry, c["method"], quote_plus(sign))
    return {"token": token}


SIGNERS = {"aliyun": aliyun, "azure": azure, "tencent": tencent, "onenet": onenet}

for line in sys.stdin:
    case = json.loads(line)
    print("\t".join(SIGNERS[case["signer"]](case).values()))
