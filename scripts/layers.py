#!/usr/bin/env python3
"""rcoap's layering check: every #include must point down the stack.

The stack, from the bottom (docs/DESIGN.md explains why):

    common                  error table, allocator, budget, version
    codec                   bytes <-> message views
    session                 one peer's message layer
    exchange | transport    siblings: neither includes the other
    app                     joins exchange and transport (app_peer)
    tools                   the programs

A source or header belongs to the layer of the folder it sits in
(src/<layer>/, tools/...). A public header include/rcoap/<name>.h belongs
to the layer its name starts with (session.h, codec_msg.h ->
session, codec); one whose name starts with no layer (err.h, common.h,
budget.h, version.h) is common. A file may include its own layer, any
lower layer and common. Common includes nothing of a layer. A folder under
src/ that is no layer is reported too, so a new one has to be placed in
the stack here (and in docs/DESIGN.md) before it can hold code.

Includes are resolved the way the build resolves them: next to the
including file, then include/, then src/. One that resolves to no file of
the repository (a system or library header) is not ours and is skipped.
tests/, fuzz/, bench/ and web/ may include anything and are not read.

Usage: python3 scripts/layers.py [REPO_ROOT]   (default: .)
Prints one line per violation, file:line first; exit status 1 if any,
0 and no output otherwise.
"""
import os
import re
import sys

COMMON = "common"
RANK = {COMMON: -1, "codec": 0, "session": 1, "exchange": 2,
        "transport": 2, "app": 3, "tools": 4}
LAYERS = [name for name in RANK if name != COMMON]
SCANNED = ("src", "include", "tools")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"|^\s*#\s*include\s*<(rcoap/[^>]+)>')


def layer_of(rel):
    """The layer of a repository path, or None if it is in none."""
    parts = rel.replace(os.sep, "/").split("/")
    if parts[0] == "tools":
        return "tools"
    if parts[0] == "src" and len(parts) > 2:
        return parts[1] if parts[1] in RANK else None
    if parts[:2] == ["include", "rcoap"] and len(parts) == 3:
        stem = os.path.splitext(parts[2])[0]
        for name in LAYERS:
            if stem == name or stem.startswith(name + "_"):
                return name
        return COMMON
    return None


def sources(root):
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for f in sorted(filenames):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def resolve(root, rel, target):
    """The repository path an include names, or None if it is not ours."""
    here = os.path.dirname(rel)
    for base in (here, "include", "src"):
        cand = os.path.normpath(os.path.join(base, target))
        if not cand.startswith("..") and os.path.isfile(os.path.join(root, cand)):
            return cand
    if target.startswith("rcoap/"):  # a public header not written yet
        return os.path.join("include", target)
    return None


def judge(mine, theirs):
    """Why `mine` may not include `theirs`, or None if it may."""
    if theirs is None or theirs == mine:
        return None
    if mine == COMMON:
        return f"common/ includes {theirs}/: common sits below every layer"
    if theirs == COMMON:
        return None
    if RANK[theirs] > RANK[mine]:
        return f"{mine}/ includes {theirs}/, a higher layer"
    if RANK[theirs] == RANK[mine]:
        return f"{mine}/ includes {theirs}/, its sibling: only app joins them"
    return None


def check(root):
    problems = []
    seen_unplaced = set()
    for rel in sources(root):
        mine = layer_of(rel)
        if mine is None:
            folder = os.path.dirname(rel)
            if folder not in seen_unplaced:
                seen_unplaced.add(folder)
                problems.append(f"{rel}:1: {folder}/ is in no layer "
                                "(place it in scripts/layers.py and docs/DESIGN.md)")
            continue
        with open(os.path.join(root, rel), errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1) or m.group(2)
                path = resolve(root, rel, target)
                why = judge(mine, layer_of(path) if path else None)
                if why:
                    problems.append(f"{rel}:{lineno}: {why} (#include \"{target}\")")
    return problems


def main(argv):
    root = argv[1] if len(argv) > 1 else "."
    if not os.path.isdir(os.path.join(root, "src")):
        print(f"{root}: no src/ folder: not an rcoap tree", file=sys.stderr)
        return 2
    problems = check(root)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
