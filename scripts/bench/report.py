#!/usr/bin/env python3
"""report.py - the table and JSON of scripts/bench_backup.sh (not a test).

  report.py WORKDIR [JSON_OUT]

Reads WORKDIR/results.tsv (rep, key, value), meta.json, loadavg.tsv and the
quoted drctl -v lines; prints the table (medians over the repetitions) and,
when JSON_OUT is given, writes the same as JSON there.
"""
import json
import os
import statistics
import sys

work = sys.argv[1]
out_path = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
MIB = 1024 * 1024

per_rep = {}
for line in open(os.path.join(work, "results.tsv")):
    rep, key, val = line.rstrip("\n").split("\t")
    per_rep.setdefault(key, []).append(val)


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


med = {}
for k, vs in per_rep.items():
    ns = [num(v) for v in vs]
    if vs and all(n is not None for n in ns):
        med[k] = statistics.median(ns)
    else:
        med[k] = vs[-1] if len(set(vs)) == 1 else vs

meta = json.load(open(os.path.join(work, "meta.json")))
loads = {}
for line in open(os.path.join(work, "loadavg.tsv")):
    k, v = line.rstrip("\n").split("\t")
    loads[k] = v


def lines(name):
    p = os.path.join(work, name)
    return [l.rstrip("\n") for l in open(p)] if os.path.exists(p) else []


def g(k):
    v = med.get(k)
    return v if isinstance(v, float) else None


def ratio(a, b):
    return a / b if a is not None and b else None


def mib(kib):
    return kib / 1024 if kib is not None else None


objs = meta["objects"]
data_mb = (meta["db_size"] + objs["bytes"]) / 1e6
ratios = []


def add(name, baseline_name, base_s, drctl_name, drctl_s, r, target, op, note=""):
    met = None
    if r is not None:
        met = r >= target if op == ">=" else r <= target
    ratios.append({"measure": name, "baseline": baseline_name, "baseline_s": base_s,
                   "drctl": drctl_name, "drctl_s": drctl_s, "ratio": r,
                   "target": "%s %g" % (op, target), "met": met, "note": note})


add("end to end", "aws s3 sync + pg_dump -Fc + tar|zstd -T0 + aws s3 cp", g("base_s"),
    "drctl backup --full", g("drctl_full_s"), ratio(g("base_s"), g("drctl_full_s")), 2.0, ">=")
add("database", "pg_dump -Fc (zlib default)", g("pg_dump_fc_s"),
    "drctl database phase (own -v timing)", g("db_drctl_s"),
    ratio(g("pg_dump_fc_s"), g("db_drctl_s")), 3.0, ">=",
    "ceilings: pg_dump -Fc / pg_dump -Fc -Z0 alone = %.2fx; / drctl's checksum pass alone = %.2fx"
    % (ratio(g("pg_dump_fc_s"), g("pg_dump_z0_s")) or 0, ratio(g("pg_dump_fc_s"), g("sums_alone_s")) or 0))
add("bundle writer vs tar|zstd", "tar -cf - | zstd -T0 -3", g("tar_zstd_s"),
    "bench_bundle (encrypted)", g("writer_enc_s"), ratio(g("tar_zstd_s"), g("writer_enc_s")), 1.0, ">=",
    "--plain: %.2fx" % (ratio(g("tar_zstd_s"), g("writer_plain_s")) or 0))
add("bundle writer vs restic", "restic backup (new repo)", g("restic_s"),
    "bench_bundle (encrypted)", g("writer_enc_s"), ratio(g("restic_s"), g("writer_enc_s")), 2.0, ">=")
add("incremental / full", "drctl backup --full", g("drctl_full_s"),
    "drctl backup (incremental, 1 % changed)", g("drctl_incr_s"),
    ratio(g("drctl_incr_s"), g("drctl_full_s")), 0.10, "<=",
    "its database phase alone: %.1f s" % (g("db_drctl_incr_s") or 0))

rss = {
    "drctl backup --full (GNU time %M, largest process)": mib(g("drctl_full_rss_kib")),
    "drctl backup --full: drctl itself (VmHWM poll)": mib(g("drctl_full_self_rss_kib")),
    "drctl backup --full: its pg_dump (VmHWM poll)": mib(g("drctl_full_pg_dump_rss_kib")),
    "drctl backup incremental (%M)": mib(g("drctl_incr_rss_kib")),
    "drctl backup incremental: drctl itself": mib(g("drctl_incr_self_rss_kib")),
    "bench_bundle encrypted (%M)": mib(g("writer_enc_rss_kib")),
    "bench_bundle --plain (%M)": mib(g("writer_plain_rss_kib")),
    "baseline pipeline (%M, largest process)": mib(g("base_rss_kib")),
    "pg_dump -Fc (%M)": mib(g("pg_dump_fc_rss_kib")),
    "tar | zstd -T0 -3 (%M, largest process)": mib(g("tar_zstd_rss_kib")),
    "restic backup (%M)": mib(g("restic_rss_kib")),
}
drctl_rss_max = max(v for k, v in rss.items() if v is not None and ("drctl" in k or "bench_bundle" in k)
                    and "pg_dump" not in k)
rss_target = {"target": "<= 64 MiB", "max_drctl_mib": drctl_rss_max, "met": drctl_rss_max <= 64}

moto = {}
if g("moto_big_down_s"):
    moto = {
        "256MiB_up_MiB_s": 256 / g("moto_big_up_s"),
        "256MiB_down_MiB_s": 256 / g("moto_big_down_s"),
        "200x64KiB_up_obj_s": 200 / g("moto_small_up_s"),
        "200x64KiB_down_obj_s": 200 / g("moto_small_down_s"),
        "seconds": {k[5:]: g(k) for k in ("moto_big_up_s", "moto_big_down_s", "moto_small_up_s",
                                          "moto_small_down_s")},
    }

# ---------------------------------------------------------------- print --
def f(v, fmt="%.2f"):
    return fmt % v if isinstance(v, (int, float)) else "-"


P = print
P("")
P("=== drctl backup benchmark (git %s%s; %d CPUs; %d repetition%s, medians) ===" % (
    meta["git"], " + %d uncommitted src/ changes" % meta["src_files_changed_uncommitted"]
    if meta["src_files_changed_uncommitted"] else "", meta["nproc"], meta["repeat"],
    "" if meta["repeat"] == 1 else "s"))
P("data: database %.0f MB (%.0f MB in %d tables, ~%d rows; asked %d MB); bucket %d objects, %.1f MiB "
  "(%.1f %% random bytes, %d random objects; sizes %d B .. %.1f MiB, median %d B, %d >= 1 MiB)" % (
      meta["db_size"] / 1e6, meta["db_tables_size"] / 1e6, meta["db_tables"], meta["db_rows"],
      meta["db_mb_asked"], objs["objects"], objs["bytes"] / MIB, 100 * objs["random_share"],
      objs["random_objects"], objs["min"], objs["max"] / MIB, objs["median"], objs["over_1mib"]))
P("profile: %s (bundle encryption: %s); drctl --concurrency %s" % (
    meta["config_dir"], meta["encryption"], meta["concurrency"]))
P("load average (1/5/15 min): %s" % "; ".join("%s %s" % kv for kv in loads.items()))
P("")
hdr = "%-27s %-30s %9s  %-36s %9s  %7s  %-8s %s"
P(hdr % ("measure", "baseline", "base s", "drctl", "drctl s", "ratio", "target", "met"))
P("-" * 142)
for r in ratios:
    P(hdr % (r["measure"], r["baseline"][:30], f(r["baseline_s"]), r["drctl"][:36], f(r["drctl_s"]),
             f(r["ratio"], "%.3f" if r["measure"].startswith("incr") else "%.2fx"), r["target"],
             {True: "yes", False: "NO", None: "?"}[r["met"]]))
    if r["note"]:
        P("%-27s   (%s)" % ("", r["note"]))
P(hdr % ("peak RSS (drctl, writer)", "", "", "max of drctl and bench_bundle", f(drctl_rss_max, "%.1f MiB"),
         "", "<= 64 MiB", "yes" if rss_target["met"] else "NO"))
P("")
P("ratios: baseline time / drctl time (>1: drctl faster); incremental row: incremental / full time.")
P("database row: drctl's own timing of its database phase (the pg_dump -Z0 stream into the bundle,")
P("  per-table checksums on other connections in the same snapshot), from its -v 'pg_dump: ... in S s' line.")
P("")
P("peak RSS, MiB:")
for k, v in rss.items():
    P("  %-52s %8s" % (k, f(v, "%.1f")))
P("")
P("end to end, where the time goes (s):")
P("  baseline:  sync %s, pg_dump -Fc %s, tar|zstd %s, upload %s  -> %s MB in the vault" % (
    f(g("base_sync_s")), f(g("base_dump_s")), f(g("base_tar_zstd_s")), f(g("base_upload_s")),
    f((g("base_bytes") or 0) / 1e6, "%.1f")))
for n, label in (("drctl_full", "drctl full"), ("drctl_incr", "drctl incr")):
    P("  %-10s prep %s, database %s, objects %s, finish (close, verify, publish, vault) %s; "
      "total %s (drctl's own %s) -> %s MB bundle of %s MB; objects %s captured, %s referenced" % (
          label + ":", f(g(n + "_ph_prep_s")), f(g(n + "_ph_db_s")), f(g(n + "_ph_objects_s")),
          f(g(n + "_ph_finish_s")), f(g(n + "_s")), f(g(n + "_internal_s")),
          f((g(n + "_bytes") or 0) / 1e6, "%.1f"), f((g(n + "_data_bytes") or 0) / 1e6, "%.1f"),
          f(g(n + "_objects_captured"), "%d"), f(g(n + "_objects_referenced"), "%d")))
    P("  %-10s drctl's RSS highest (%s MiB) at +%s s" % (
        "", f(mib(g(n + "_self_rss_kib")), "%.1f"), f(g(n + "_self_rss_peak_at_s"), "%.1f")))
if g("drctl_full_s"):
    P("  drctl full throughput: %.1f MB/s of data (database + objects)" % (data_mb / g("drctl_full_s")))
P("  incremental: %s objects (%s MB) changed, a few rows updated" % (
    f(g("mutate_objects"), "%d"), f((g("mutate_bytes") or 0) / 1e6, "%.1f")))
P("")
P("database (s): pg_dump -Fc %s (%s MB), pg_dump -Fc -Z0 %s (%s MB), drctl's checksum pass alone %s, "
  "drctl's database phase %s (%s MB stream)" % (
    f(g("pg_dump_fc_s")), f((g("pg_dump_fc_bytes") or 0) / 1e6, "%.1f"), f(g("pg_dump_z0_s")),
    f((g("pg_dump_z0_bytes") or 0) / 1e6, "%.1f"), f(g("sums_alone_s")), f(g("db_drctl_s")),
    f((g("db_drctl_dump_bytes") or 0) / 1e6, "%.1f")))
fb = g("files_bytes") or 0
P("writer input: %.1f MB (objects + uncompressed dump); output MB: bench_bundle enc %s (cpu %s s), plain %s, "
  "tar|zstd %s, restic repo %s" % (
      fb / 1e6, f((g("writer_enc_bytes") or 0) / 1e6, "%.1f"), f(g("writer_enc_cpu_s")),
      f((g("writer_plain_bytes") or 0) / 1e6, "%.1f"), f((g("tar_zstd_bytes") or 0) / 1e6, "%.1f"),
      f((g("restic_bytes") or 0) / 1e6, "%.1f")))
for k, label in (("writer_enc_s", "bench_bundle enc"), ("writer_plain_s", "bench_bundle plain"),
                 ("tar_zstd_s", "tar|zstd -T0 -3"), ("restic_s", "restic")):
    if g(k):
        P("  %-20s %6.2f s  %7.1f MB/s" % (label, g(k), fb / 1e6 / g(k)))
if moto:
    P("")
    P("moto's own speed (aws s3 cp, this run): 256 MiB object up %.1f MiB/s, down %.1f MiB/s; "
      "200 x 64 KiB up %.0f obj/s, down %.0f obj/s; moto RSS at the end %.0f MiB" % (
          moto["256MiB_up_MiB_s"], moto["256MiB_down_MiB_s"], moto["200x64KiB_up_obj_s"],
          moto["200x64KiB_down_obj_s"], meta["moto_rss_kib_end"] / 1024))
fl = lines("drctl_full.lines")
il = lines("drctl_incr.lines")
if fl or il:
    P("")
    P("drctl's -v timing lines (last repetition; +seconds since start):")
    for l in fl:
        P("  full: " + l.strip())
    for l in il:
        P("  incr: " + l.strip())
P("")

if out_path:
    doc = {"meta": meta, "loadavg": loads, "ratios": ratios, "peak_rss_mib": rss,
           "rss_target": rss_target, "moto_speed": moto, "medians": med, "per_repetition": per_rep,
           "drctl_lines": {"full": [l.strip() for l in fl], "incremental": [l.strip() for l in il]}}
    with open(out_path, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")
    P("JSON written to %s" % out_path)
