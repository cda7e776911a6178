#!/usr/bin/env python3
"""aws_writes.py LOG - the AWS calls in a fault_proxy.py log that change
state, one per line ("service op method path"), judged the way IAM policies
read them: an operation named Describe*/List*/Get*/Head*/Lookup* (or a REST
GET/HEAD) reads; anything else writes. Exit 0 always; count the lines."""
import json
import sys

READ_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "Check")

for line in open(sys.argv[1], encoding="utf-8"):
    rec = json.loads(line)
    op = rec.get("op") or ""
    name = op.rsplit(".", 1)[-1]
    if name:
        if name.startswith(READ_PREFIXES):
            continue
    elif rec.get("method") in ("GET", "HEAD"):
        continue
    print(rec.get("service"), name or "-", rec.get("method"), rec.get("path"))
