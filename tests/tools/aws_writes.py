#!/usr/bin/env python3
"""aws_writes.py LOG - the AWS calls in a fault_proxy.py log that change
state, one per line ("service op method path"), judged the way IAM reads
them: a query/JSON operation named Describe*/List*/Get*/Head*/Lookup*/Check*
reads, any other operation writes; a REST call (S3, Route 53, CloudFront,
whose logged op is the HTTP method, possibly followed by the path) reads
when its method is GET or HEAD. Exit 0 always; count the lines."""
import json
import sys

READ_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "Check")
HTTP_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "PATCH")

for line in open(sys.argv[1], encoding="utf-8"):
    rec = json.loads(line)
    op = rec.get("op") or ""
    first = op.split(" ", 1)[0]
    if first in HTTP_METHODS or not op:
        if rec.get("method") in ("GET", "HEAD"):
            continue
        name = op or rec.get("method")
    else:
        name = op.rsplit(".", 1)[-1]
        if name.startswith(READ_PREFIXES):
            continue
    print(rec.get("service"), name.replace(" ", "_"), rec.get("method"), rec.get("path"))
