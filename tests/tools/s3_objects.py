#!/usr/bin/env python3
"""s3_objects.py - fill, change and describe a bucket for the backup tests.

An independent check: boto3 (not drctl) puts the objects and later reads
back what the bucket holds, so a test compares drctl's bundle with what S3
says, not with what drctl says.

  put      --bucket B --count N [--seed S] [--big K] [--big-mib M] [--unicode]
           N objects: sizes from 0 B to 200 KiB, K of them M MiB (multipart-
           sized), keys with spaces, deep paths, optional unicode; content
           types, user metadata, SSE AES256 on some.
  mutate   --bucket B [--fraction F] [--seed S]
           overwrite ceil(F*N) objects, add one, delete one; prints a JSON
           {"changed": [...], "added": [...], "deleted": [...]}.
  describe --bucket B
           prints {key: {size, sha256, content_type, metadata, sse}} for every
           object (GET + HEAD through boto3).
  compare  --bucket B --extract DIR [--index FILE] [--bundles DIR...]
           checks the bucket against an extracted bundle (s3/index.json and
           s3/objects/): every key present, same bytes (SHA-256), same
           content type, metadata and SSE; objects referenced from earlier
           bundles are looked up in the other extracted DIRs. Exit 1 and a
           line per difference on mismatch.
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys

import boto3
from botocore.config import Config


def client(region):
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}),
    )


def body(rng, size):
    # Half text-like (compressible), half random.
    if rng.random() < 0.5:
        word = b"litellm spend log row %d\n" % rng.randrange(1000)
        return (word * (size // len(word) + 1))[:size]
    return rng.randbytes(size)


def cmd_put(a):
    s3 = client(a.region)
    rng = random.Random(a.seed)
    dirs = ["logs", "logs/2026/11/27", "files", "files/team a", "exports/deep/er/and/deeper"]
    for i in range(a.count):
        d = dirs[i % len(dirs)]
        key = f"{d}/object {i:04d}.bin" if i % 7 == 0 else f"{d}/obj-{i:04d}.json"
        if a.unicode and i % 11 == 0:
            key = f"{d}/résumé-数据-{i:04d}.txt"
        size = 0 if i == 0 else 1 if i == 1 else rng.randrange(1, 200 * 1024)
        extra = {"ContentType": "application/json" if key.endswith(".json") else "application/octet-stream"}
        if i % 3 == 0:
            extra["Metadata"] = {"team": f"t{i % 5}", "origin": "itest"}
        if i % 4 == 0:
            extra["ServerSideEncryption"] = "AES256"
        s3.put_object(Bucket=a.bucket, Key=key, Body=body(rng, size), **extra)
    for j in range(a.big):
        key = f"big/blob-{j}.bin"
        size = a.big_mib * 1024 * 1024 + rng.randrange(1, 100000)
        s3.upload_fileobj(
            __import__("io").BytesIO(body(rng, size)),
            a.bucket,
            key,
            ExtraArgs={"ContentType": "application/x-big", "Metadata": {"part": str(j)}},
        )
    print(a.count + a.big)


def all_keys(s3, bucket):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(keys)


def cmd_mutate(a):
    s3 = client(a.region)
    rng = random.Random(a.seed)
    keys = [k for k in all_keys(s3, a.bucket) if not k.startswith("big/")]
    n = max(1, math.ceil(a.fraction * len(keys)))
    changed = sorted(rng.sample(keys, n))
    for k in changed:
        s3.put_object(Bucket=a.bucket, Key=k, Body=body(rng, rng.randrange(1, 50000)),
                      ContentType="text/plain", Metadata={"changed": "yes"})
    deleted = [k for k in keys if k not in changed][0]
    s3.delete_object(Bucket=a.bucket, Key=deleted)
    added = f"added/new-{a.seed}.txt"
    s3.put_object(Bucket=a.bucket, Key=added, Body=b"new object\n", ContentType="text/plain")
    print(json.dumps({"changed": changed, "added": [added], "deleted": [deleted]}))


def describe(s3, bucket):
    out = {}
    for k in all_keys(s3, bucket):
        r = s3.get_object(Bucket=bucket, Key=k)
        data = r["Body"].read()
        out[k] = {
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": r.get("ContentType"),
            "metadata": r.get("Metadata", {}),
            "sse": r.get("ServerSideEncryption"),
        }
    return out


def cmd_describe(a):
    print(json.dumps(describe(client(a.region), a.bucket), indent=1, sort_keys=True))


def cmd_compare(a):
    truth = describe(client(a.region), a.bucket)
    dirs = [a.extract] + (a.bundles or [])
    with open(os.path.join(a.extract, "s3", "index.json")) as f:
        index = json.load(f)
    by_version = {}
    for d in dirs:
        with open(os.path.join(d, "s3", "index.json")) as f:
            v = json.load(f)
        by_version[v.get("version")] = d
    bad = 0
    seen = set()
    for o in index["objects"]:
        k = o["key"]
        seen.add(k)
        t = truth.get(k)
        if t is None:
            print(f"extra in bundle: {k!r}")
            bad += 1
            continue
        holder = by_version.get(o.get("bundle"))
        if holder is None:
            # Fall back: any extracted dir that has the entry.
            holder = next((d for d in dirs if os.path.exists(os.path.join(d, o["entry"]))), None)
        if holder is None:
            print(f"{k!r}: bundle v{o.get('bundle')} holding it was not extracted")
            bad += 1
            continue
        path = os.path.join(holder, o["entry"])
        # Streamed entries may be stored as parts.
        data = b""
        if os.path.exists(path):
            data = open(path, "rb").read()
        else:
            i = 1
            while os.path.exists(f"{path}.part-{i:06d}"):
                data += open(f"{path}.part-{i:06d}", "rb").read()
                i += 1
        if hashlib.sha256(data).hexdigest() != t["sha256"]:
            print(f"{k!r}: bytes differ (bundle {hashlib.sha256(data).hexdigest()[:12]}, S3 {t['sha256'][:12]})")
            bad += 1
        if o.get("sha256") != t["sha256"]:
            print(f"{k!r}: index sha256 differs")
            bad += 1
        if (o.get("content_type") or None) != (t["content_type"] or None):
            print(f"{k!r}: content type {o.get('content_type')!r} vs {t['content_type']!r}")
            bad += 1
        if (o.get("metadata") or {}) != (t["metadata"] or {}):
            print(f"{k!r}: metadata {o.get('metadata')!r} vs {t['metadata']!r}")
            bad += 1
        if (o.get("sse") or None) != (t["sse"] or None):
            print(f"{k!r}: sse {o.get('sse')!r} vs {t['sse']!r}")
            bad += 1
    for k in truth:
        if k not in seen:
            print(f"missing from bundle: {k!r}")
            bad += 1
    print(f"{len(truth)} objects compared, {bad} differences")
    sys.exit(1 if bad else 0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["put", "mutate", "describe", "compare"])
    p.add_argument("--bucket", required=True)
    p.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--big", type=int, default=2)
    p.add_argument("--big-mib", type=int, default=20)
    p.add_argument("--unicode", action="store_true")
    p.add_argument("--fraction", type=float, default=0.01)
    p.add_argument("--extract")
    p.add_argument("--bundles", nargs="*")
    a = p.parse_args()
    {"put": cmd_put, "mutate": cmd_mutate, "describe": cmd_describe, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
