#!/usr/bin/env python3
"""Tests for scripts/layers.py, run by ctest (scripts.test_layers).

The checker must pass on the real tree, and fail -- naming the file, the
line and the reason -- on a copy of the tree with one bad include planted:
transport -> exchange and exchange -> transport (siblings), session -> app
(upward), common -> codec (common is below every layer), a relative include
of a higher layer's private header, and a folder under src/ that is in no
layer. Each plant is checked alone, so one reported line cannot hide
another that goes unreported.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
CHECKER = os.path.join(ROOT, "scripts", "layers.py")
failures = []


def run(tree):
    p = subprocess.run([sys.executable, CHECKER, tree], capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def expect(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures.append(name)
        if detail:
            print(detail)


def copy_tree(dst):
    for top in ("src", "include", "tools"):
        shutil.copytree(os.path.join(ROOT, top), os.path.join(dst, top))


def plant(tree, rel, line):
    """Appends an include to rel (creating it) and returns its line number."""
    path = os.path.join(tree, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = open(path).read() if os.path.exists(path) else ""
    if text and not text.endswith("\n"):
        text += "\n"
    text += line + "\n"
    open(path, "w").write(text)
    return text.count("\n")


rc, out = run(ROOT)
expect("real tree: exit 0", rc == 0, out)
expect("real tree: silent", out == "", out)

CASES = [
    ("transport includes exchange", "src/transport/listen.c",
     '#include "rcoap/exchange.h"', "sibling"),
    ("exchange includes transport", "src/exchange/exchange.c",
     '#include "rcoap/transport_conn.h"', "sibling"),
    ("exchange includes a transport private header",
     "src/exchange/xserver.c", '#include "transport/conn_int.h"', "sibling"),
    ("session includes app (upward)", "src/session/reliable.c",
     '#include <rcoap/app.h>', "higher layer"),
    ("codec includes app's private header by a relative path",
     "src/codec/msg.c", '#include "../app/app_int.h"', "higher layer"),
    ("common source includes codec", "src/common/err.c",
     '#include "rcoap/codec_msg.h"', "common sits below"),
    ("common public header includes session", "include/rcoap/budget.h",
     '#include "rcoap/session.h"', "common sits below"),
    ("a folder in no layer", "src/proxy/proxy.c",
     '#include "rcoap/app.h"', "in no layer"),
]

with tempfile.TemporaryDirectory(prefix="rcoap-layers-") as tmp:
    for i, (name, rel, line, reason) in enumerate(CASES):
        tree = os.path.join(tmp, str(i))
        copy_tree(tree)
        rc, out = run(tree)
        expect(f"copy before planting ({name}): passes", rc == 0 and out == "", out)
        lineno = plant(tree, rel, line)
        rc, out = run(tree)
        lines = out.splitlines()
        where = f"{rel}:{lineno if reason != 'in no layer' else 1}:"
        expect(f"{name}: exit 1", rc == 1, out)
        expect(f"{name}: one line, at {where}, says '{reason}'",
               len(lines) == 1 and lines[0].startswith(where) and reason in lines[0],
               out)

    # Allowed edges stay silent: app includes both siblings, tools include
    # app, a layer includes common, exchange includes session.
    tree = os.path.join(tmp, "allowed")
    copy_tree(tree)
    plant(tree, "src/app/context.c", '#include "rcoap/exchange.h"')
    plant(tree, "src/app/context.c", '#include "rcoap/transport_conn.h"')
    plant(tree, "tools/rcoap/main.c", '#include "rcoap/app.h"')
    plant(tree, "src/codec/msg.c", '#include "rcoap/budget.h"')
    plant(tree, "src/exchange/exchange.c", '#include "rcoap/session.h"')
    plant(tree, "src/transport/listen.c", '#include <uv.h>')
    rc, out = run(tree)
    expect("allowed includes: exit 0 and silent", rc == 0 and out == "", out)

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
