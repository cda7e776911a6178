#!/usr/bin/env python3
"""Sign one request with botocore, at a frozen time, and print the result.

A reference for drctl's SigV4 (src/aws/sigv4.c): the unit tests and the
lead's end-to-end checks run this and compare byte for byte.

Input: one JSON object, from the file named by argv[1] or from stdin:

  {
    "mode": "header" | "presign",
    "method": "GET",
    "url": "https://host/path?query",     # path and query exactly as sent
    # or, for S3, build the URL the way botocore's S3 client does:
    "endpoint": "https://s3.us-east-1.amazonaws.com",
    "bucket": "b", "key": "unicode key+1.txt",  # path-style /b/<quoted key>
    "params": [["versionId", "a b"]],     # appended, percent-encoded as botocore does
    "headers": [["Content-Type", "text/plain"]],
    "body": "text" | null,
    "time": "2015-08-30T12:36:00Z",
    "access_key": "...", "secret_key": "...", "token": null,
    "region": "us-east-1", "service": "s3",
    "unsigned_payload": false,            # S3 header mode: sign UNSIGNED-PAYLOAD
    "expires": 3600                       # presign
  }

Output: one JSON object: url (the URL signed, or the presigned URL),
path, query, headers (list of [name, value] after signing, in order),
authorization, canonical_request, string_to_sign, signature, botocore_version.

Signers: S3SigV4Auth / S3SigV4QueryAuth when service is "s3", otherwise
SigV4Auth / SigV4QueryAuth.
"""
import datetime
import json
import sys
from unittest import mock
from urllib.parse import urlsplit

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence


def recording(cls):
    """The signer class, keeping the canonical request and string to sign."""

    class Recording(cls):
        def canonical_request(self, request):
            self.recorded_cr = super().canonical_request(request)
            return self.recorded_cr

        def string_to_sign(self, request, canonical_request):
            self.recorded_sts = super().string_to_sign(request, canonical_request)
            return self.recorded_sts

        def signature(self, string_to_sign, request):
            self.recorded_sig = super().signature(string_to_sign, request)
            return self.recorded_sig

    return Recording


def frozen_time(when):
    """Patch botocore.auth's clock. botocore >= 1.33 reads it through
    get_current_datetime (a naive UTC datetime); older releases called
    datetime.datetime.utcnow() on the module's datetime import."""
    if hasattr(botocore.auth, 'get_current_datetime'):
        return mock.patch.object(
            botocore.auth, 'get_current_datetime', lambda *a, **k: when
        )

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

    shim = mock.MagicMock(wraps=datetime)
    shim.datetime = FrozenDatetime
    return mock.patch.object(botocore.auth, 'datetime', shim)


def build_url(req):
    if 'url' in req:
        url = req['url']
    else:
        # What botocore's rest-xml serializer does with {Bucket} and {Key+}.
        url = req['endpoint'].rstrip('/') + '/' + percent_encode(req['bucket'], safe='')
        if req.get('key') is not None:
            url += '/' + percent_encode(req['key'], safe='/~')
    params = req.get('params') or []
    if params:
        url += ('&' if '?' in url else '?') + percent_encode_sequence(params)
    return url


def main():
    src = open(sys.argv[1], encoding='utf-8') if len(sys.argv) > 1 else sys.stdin
    req = json.load(src)
    when = datetime.datetime.strptime(req['time'], '%Y-%m-%dT%H:%M:%SZ')
    creds = Credentials(req['access_key'], req['secret_key'], req.get('token'))
    s3 = req['service'] == 's3'
    presign = req.get('mode', 'header') == 'presign'

    if presign:
        base = botocore.auth.S3SigV4QueryAuth if s3 else botocore.auth.SigV4QueryAuth
        signer = recording(base)(
            creds, req['service'], req['region'], expires=int(req.get('expires', 3600))
        )
    else:
        base = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
        signer = recording(base)(creds, req['service'], req['region'])

    url = build_url(req)
    body = req.get('body')
    request = AWSRequest(
        method=req['method'],
        url=url,
        headers=None,
        data=body.encode('utf-8') if body is not None else None,
    )
    for name, value in req.get('headers') or []:
        request.headers[name] = value
    if req.get('unsigned_payload'):
        request.context['client_config'] = Config(s3={'payload_signing_enabled': False})

    with frozen_time(when):
        signer.add_auth(request)

    parts = urlsplit(request.url)
    out = {
        'botocore_version': botocore.__version__,
        'url': request.url,
        'path': parts.path,
        'query': parts.query,
        'headers': [[k, v] for k, v in request.headers.items()],
        'authorization': request.headers.get('Authorization'),
        'canonical_request': signer.recorded_cr,
        'string_to_sign': signer.recorded_sts,
        'signature': signer.recorded_sig,
    }
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
