#!/usr/bin/env python3
"""Writes the held-out evaluation set to evals/holdout/: one recorded session per file and
labels.jsonl. Deterministic: fixed seeds (a CRC of each session's name) and fixed timestamps.

    python3 evals/holdout-gen/make.py [outdir]
"""

import datetime
import json
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sim import Session  # noqa: E402
from reg import SCENARIOS  # noqa: E402
import scen_loops  # noqa: E402,F401
import scen_contra  # noqa: E402,F401
import scen_drift  # noqa: E402,F401
import scen_clean  # noqa: E402,F401

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "holdout")
EPOCH = datetime.datetime(2026, 1, 12, 8, 0, tzinfo=datetime.timezone.utc)


def build(i, sc):
    name = sc["name"]
    seed = zlib.crc32(name.encode())
    start = EPOCH + datetime.timedelta(days=i * 2 + (i % 3), hours=(seed % 10), minutes=(seed >> 8) % 60, seconds=(seed >> 16) % 60)
    base_ts = int(start.timestamp()) * 1_000_000_000 + (seed % 1_000_000_000)
    uid = 0 if sc.get("root") else 1000
    s = Session("ho-" + name, seed, base_ts, uid=uid)
    s.date = start.strftime("%Y-%m-%d")
    s.date_long = start.strftime("%A, %B %-d, %Y")
    s.date_path = start.strftime("%m/%d")
    s.date_iso = start.strftime("%Y-%m-%dT%H-%M-%S")
    sc["fn"](s)
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".jsonl"):
            os.remove(os.path.join(OUT, f))
    labels = []
    for i, sc in enumerate(SCENARIOS):
        s = build(i, sc)
        fname = sc["name"] + ".jsonl"
        with open(os.path.join(OUT, fname), "w", encoding="utf-8") as fh:
            for ev in s.events:
                fh.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
        if sc["clean"]:
            assert not s.labels, sc["name"]
        else:
            assert s.labels, sc["name"]
        labels.append({"file": fname, "session": s.sid, "agent": sc["agent"], "clean": sc["clean"], "labels": s.labels, "note": s.note})
    with open(os.path.join(OUT, "labels.jsonl"), "w", encoding="utf-8") as fh:
        for l in labels:
            fh.write(json.dumps(l, ensure_ascii=False) + "\n")
    with open(os.path.join(OUT, ".gitignore"), "w") as fh:
        fh.write("!*.jsonl\n")
    print(f"wrote {len(labels)} sessions to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
