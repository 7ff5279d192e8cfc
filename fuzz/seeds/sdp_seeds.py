#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/sdp for fuzz_sdp: the real SDP
vectors of tests/unit/vectors/sdp/ (Chromium, aiortc, werift), and each
offer wrapped in the signaling JSON {"type":"offer","sdp":...}. Run from
anywhere; overwrites."""
import glob
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
VEC = os.path.join(HERE, "..", "..", "tests", "unit", "vectors", "sdp")
OUT = os.path.join(HERE, "..", "corpus", "sdp")

os.makedirs(OUT, exist_ok=True)
for path in sorted(glob.glob(os.path.join(VEC, "*.sdp"))):
    name = os.path.basename(path)
    shutil.copy(path, os.path.join(OUT, name))
    if "offer" in name:
        with open(path, newline="") as f:
            sdp = f.read()
        with open(os.path.join(OUT, name[:-4] + ".json"), "w") as f:
            f.write(json.dumps({"type": "offer", "sdp": sdp}))
