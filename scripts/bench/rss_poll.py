#!/usr/bin/env python3
"""rss_poll.py - peak RSS per process of a benchmarked command (not a test).

  rss_poll.py EXE OUT

(creates OUT.ready once the first scan is done)

Every 0.1 s until SIGTERM/SIGINT: finds the processes whose /proc/PID/exe is
EXE and their descendants, and keeps the largest VmHWM (the kernel's own
peak RSS of each process) seen, keyed "self" for EXE's processes and by
command name for the children (pg_dump, psql, ...). Then writes
{"self": KiB, "pg_dump": KiB, ...} to OUT.

GNU time's %M is the peak of the largest single process of the tree (the
child's own or that of a child it waited for), so it cannot tell drctl from
its pg_dump; this can. A spike in a process's last 0.1 s can be missed, so
read it beside %M. Also written: "self_rss_max_at" (Unix time at which
EXE's VmRSS was highest, to tell which phase holds the peak).
"""
import json
import os
import signal
import sys
import time

exe = os.path.realpath(sys.argv[1])
out = sys.argv[2]
peak = {}
rss_max = [0, None]  # largest VmRSS of EXE's processes, and when
stop = False


def on_signal(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def status(pid):
    name, hwm, rss = None, None, None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Name:"):
                name = line.split()[1]
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
                break
    return name, hwm, rss


def scan():
    parent = {}
    roots = set()
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        pid = int(p)
        try:
            with open("/proc/%d/stat" % pid) as f:
                parent[pid] = int(f.read().rsplit(")", 1)[1].split()[1])
            if os.readlink("/proc/%d/exe" % pid) == exe:
                roots.add(pid)
        except OSError:
            pass
    if not roots:
        return
    tree = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, pp in parent.items():
            if pp in tree and pid not in tree:
                tree.add(pid)
                grew = True
    for pid in tree:
        try:
            name, hwm, rss = status(pid)
        except OSError:
            continue
        if hwm is None:
            continue
        key = "self" if pid in roots else name
        if key == "self" and rss is not None and rss > rss_max[0]:
            rss_max[0], rss_max[1] = rss, time.time()
        if hwm > peak.get(key, 0):
            peak[key] = hwm


first = True
while not stop:
    scan()
    if first:  # tells the caller that polling runs
        open(out + ".ready", "w").close()
        first = False
    time.sleep(0.1)
if rss_max[1] is not None:
    peak["self_rss_max_at"] = rss_max[1]
with open(out, "w") as f:
    json.dump(peak, f)
