#!/usr/bin/env python3
"""gen_objects.py - the object data set of scripts/bench_backup.sh (not a test).

  put    --bucket B --count N --mib M [--seed S] [--threads T] [--region R]
         N objects totalling M MiB (exactly, to the byte), sizes from 1 KiB to
         64 MiB (both extremes present), fewer in each larger decade (see
         sizes_for; 1000 objects, 500 MiB: median ~6 KiB, ~57 objects of
         1 MiB or more, 3 near 64 MiB). A quarter of the bytes (just
         under) are random (incompressible); the rest are text-like JSON log
         lines, every line unique (ids, timestamps, counters), compressing
         about 3-5x with zstd -3, and never repeating across objects (so no
         tool gains from deduplication). Put with boto3 from T threads
         (default 8). Deterministic for a given seed, count and size.
  mutate --bucket B [--fraction F] [--seed S] [--threads T] [--region R]
         overwrite ceil(F * N) existing objects (default F = 0.01) with new
         content of the same size and kind (random stays random).
  Both print one JSON line to stdout: what was done, bytes, seconds.

Keys use only [A-Za-z0-9/._-] (moto refuses signed requests for keys with
'+', '(', ')' or non-ASCII characters). Needs AWS_ENDPOINT_URL and the
sandbox's keys in the environment (scripts/sandbox.sh env --export).
"""
import argparse
import concurrent.futures as cf
import json
import math
import os
import random
import sys
import threading
import time

import boto3
from botocore.config import Config

KIB = 1024
MIB = 1024 * 1024
MIN_SIZE = 1 * KIB
MAX_SIZE = 64 * MIB

_local = threading.local()


def s3(region):
    c = getattr(_local, "s3", None)
    if c is None:
        c = boto3.session.Session().client(
            "s3",
            region_name=region,
            endpoint_url=os.environ["AWS_ENDPOINT_URL"],
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 5, "mode": "standard"},
                max_pool_connections=4,
                read_timeout=300,
            ),
        )
        _local.s3 = c
    return c


# ------------------------------------------------------------------ sizes --
def sizes_for(count, total, seed):
    """count sizes in [MIN_SIZE, MAX_SIZE] summing to total exactly, one of
    each extreme. log(size / MIN_SIZE) follows an exponential distribution
    truncated to [0, log(MAX_SIZE / MIN_SIZE)] whose rate a is found by
    bisection: every decade of sizes is present, fewer objects in each larger
    one (1000 objects, 500 MiB: median ~6 KiB, ~57 of 1 MiB or more)."""
    if count < 2:
        sys.exit("gen_objects: --count must be at least 2")
    if total < MIN_SIZE * (count - 1) + MAX_SIZE:
        sys.exit("gen_objects: --mib too small for --count objects with one of 64 MiB")
    if total > MAX_SIZE * (count - 1) + MIN_SIZE:
        sys.exit("gen_objects: --mib too large for --count objects of at most 64 MiB")
    rng = random.Random("sizes:%d" % seed)
    us = [0.0, 1.0] + [rng.random() for _ in range(count - 2)]
    span = math.log(MAX_SIZE / MIN_SIZE)

    def sizes(a):
        out = []
        for u in us:
            if abs(a) < 1e-9:
                x = u * span
            else:
                x = -math.log((1 - u) + u * math.exp(-a * span)) / a
            out.append(max(MIN_SIZE, min(MAX_SIZE, int(MIN_SIZE * math.exp(x)))))
        out[0], out[1] = MIN_SIZE, MAX_SIZE
        return out

    lo, hi = -20.0, 20.0  # sum(sizes(a)) falls as a grows
    for _ in range(100):
        mid = (lo + hi) / 2
        if sum(sizes(mid)) > total:
            lo = mid
        else:
            hi = mid
    s = sizes(hi)  # sum <= total; spread the rest over the mid-sized objects
    rest = total - sum(s)
    mids = [i for i in range(2, count) if s[i] < MAX_SIZE]
    i = 0
    while rest > 0 and mids:
        j = mids[i % len(mids)]
        add = min(rest, MAX_SIZE - s[j], max(1, rest // len(mids)))
        s[j] += add
        rest -= add
        i += 1
    assert sum(s) == total and min(s) >= MIN_SIZE and max(s) <= MAX_SIZE
    return s, hi


def kinds_for(sizes, seed, random_share=0.25):
    """Which objects are random: filled greedily in a shuffled order until a
    quarter of the bytes (never more)."""
    rng = random.Random("kinds:%d" % seed)
    order = list(range(len(sizes)))
    rng.shuffle(order)
    budget = int(sum(sizes) * random_share)
    kinds = ["text"] * len(sizes)
    got = 0
    for i in order:
        if got + sizes[i] <= budget:
            kinds[i] = "random"
            got += sizes[i]
    return kinds


# ---------------------------------------------------------------- content --
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "claude-3-haiku", "llama-3.1-70b",
          "mistral-large", "gemini-1.5-pro", "text-embedding-3-small", "o1-mini", "command-r"]
ROUTES = ["/chat/completions", "/v1/chat/completions", "/embeddings", "/v1/completions",
          "/v1/images/generations", "/audio/transcriptions"]
STATUS = ["success", "success", "success", "success", "failure", "rate_limited"]
SYL = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "si", "de", "pa", "en", "tor", "ing", "al", "ver",
       "con", "pro", "ex", "ma", "li", "ter", "co", "na", "ra", "ti", "mo", "ble", "tion", "st", "qu"]


def _vocab(rng, n=3000):
    return ["".join(rng.choice(SYL) for _ in range(rng.randint(1, 4))) for _ in range(n)]


_VOCAB = _vocab(random.Random("vocab"))


def text_body(rng, size, tag):
    """JSON log lines, each unique; exactly size bytes."""
    out = []
    n = 0
    ts = 1767225600 + rng.randrange(10**7)
    seq = 0
    choices, randrange, vocab = rng.choices, rng.randrange, _VOCAB
    while n < size:
        seq += 1
        ts += randrange(1, 900)
        words = " ".join(choices(vocab, k=randrange(4, 40)))
        line = ('{"ts":%d.%03d,"obj":"%s","seq":%d,"request_id":"chatcmpl-%016x","model":"%s",'
                '"route":"%s","user":"user-%05d","team":"team-%03d","prompt_tokens":%d,'
                '"completion_tokens":%d,"spend":%.6f,"status":"%s","message":"%s"}\n') % (
            ts, randrange(1000), tag, seq, rng.getrandbits(64), MODELS[randrange(len(MODELS))],
            ROUTES[randrange(len(ROUTES))], randrange(20000), randrange(300), randrange(4000),
            randrange(2000), rng.random() / 10, STATUS[randrange(len(STATUS))], words)
        b = line.encode()
        out.append(b)
        n += len(b)
    data = b"".join(out)
    return data[:size]


def body(kind, size, seed_str):
    rng = random.Random(seed_str)
    if kind == "random":
        return rng.randbytes(size)
    return text_body(rng, size, seed_str)


def key_for(i, kind, size):
    if kind == "random":
        ext = "bin" if size < MIB else "tar.gz"
        return "uploads/team-%02d/blob-%05d.%s" % (i % 17, i, ext)
    if size >= 4 * MIB:
        return "exports/spend/2026-%02d/export-%05d.jsonl" % (1 + i % 12, i)
    return "logs/2026/%02d/%02d/requests-%05d.jsonl" % (1 + i % 12, 1 + i % 28, i)


def content_type(kind):
    return "application/octet-stream" if kind == "random" else "application/x-ndjson"


# --------------------------------------------------------------- commands --
def run_parallel(fn, items, threads):
    done_bytes = 0
    with cf.ThreadPoolExecutor(max_workers=threads) as ex:
        futs = [ex.submit(fn, it) for it in items]
        for f in cf.as_completed(futs):
            done_bytes += f.result()
    return done_bytes


def cmd_put(a):
    total = int(a.mib * MIB)
    sizes, k = sizes_for(a.count, total, a.seed)
    kinds = kinds_for(sizes, a.seed)
    t0 = time.monotonic()
    # largest first: the long puts start early and the pool drains evenly
    order = sorted(range(a.count), key=lambda i: -sizes[i])

    def put(i):
        data = body(kinds[i], sizes[i], "obj:%d:%d" % (a.seed, i))
        s3(a.region).put_object(Bucket=a.bucket, Key=key_for(i, kinds[i], sizes[i]), Body=data,
                                ContentType=content_type(kinds[i]),
                                Metadata={"bench-kind": kinds[i], "bench-gen": "0"})
        return len(data)

    n = run_parallel(put, order, a.threads)
    rnd = sum(s for s, kd in zip(sizes, kinds) if kd == "random")
    srt = sorted(sizes)
    print(json.dumps({
        "objects": a.count, "bytes": n, "random_bytes": rnd,
        "random_share": round(rnd / n, 4), "random_objects": kinds.count("random"),
        "min": srt[0], "median": srt[len(srt) // 2], "max": srt[-1],
        "over_1mib": sum(1 for s in sizes if s >= MIB), "size_rate": round(k, 4),
        "seconds": round(time.monotonic() - t0, 2)}))


def list_all(region, bucket):
    out = []
    pg = s3(region).get_paginator("list_objects_v2")
    for page in pg.paginate(Bucket=bucket):
        out.extend(page.get("Contents", []))
    return out


def cmd_mutate(a):
    objs = sorted(list_all(a.region, a.bucket), key=lambda o: o["Key"])
    if not objs:
        sys.exit("gen_objects: bucket %s is empty" % a.bucket)
    n = max(1, math.ceil(a.fraction * len(objs)))
    rng = random.Random("mutate:%d" % a.seed)
    pick = rng.sample(objs, n)
    t0 = time.monotonic()

    def put(o):
        kind = "random" if o["Key"].startswith("uploads/") else "text"
        data = body(kind, o["Size"], "mut:%d:%s" % (a.seed, o["Key"]))
        s3(a.region).put_object(Bucket=a.bucket, Key=o["Key"], Body=data, ContentType=content_type(kind),
                                Metadata={"bench-kind": kind, "bench-gen": str(a.seed)})
        return len(data)

    nb = run_parallel(put, pick, a.threads)
    print(json.dumps({"changed": n, "of": len(objs), "bytes": nb,
                      "largest": max(o["Size"] for o in pick),
                      "seconds": round(time.monotonic() - t0, 2)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("put")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--mib", type=float, required=True)
    m = sub.add_parser("mutate")
    m.add_argument("--fraction", type=float, default=0.01)
    for q in (p, m):
        q.add_argument("--bucket", required=True)
        q.add_argument("--seed", type=int, default=1)
        q.add_argument("--threads", type=int, default=8)
        q.add_argument("--region", default="us-east-1")
    a = ap.parse_args()
    {"put": cmd_put, "mutate": cmd_mutate}[a.cmd](a)


if __name__ == "__main__":
    main()
