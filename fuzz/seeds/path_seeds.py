#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/path for fuzz_path: request paths
that are served and ones that must be refused (dot segments raw and
percent-encoded, encoded slashes and backslashes, NUL, dot files, empty
segments, queries, bad escapes, non-absolute targets). Each seed is one
flags byte (bit 0: HTTP target), one output-capacity byte, then the path.
Run from anywhere; overwrites."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "corpus", "path")

PATHS = [
    b"/", b"//", b"/index.html", b"/js/app.js?v=2", b"/a/b/", b"///a//b///",
    b"/..", b"/../secret", b"/a/../../b", b"/./a", b"/%2e%2e/x", b"/%2E%2e/x",
    b"/.%2e/x", b"/..%2fx", b"/a%2Fb", b"/..\\x", b"/%5c..%5cx",
    b"/app.js%00.html", b"/a\x00b", b"/.env", b"/a/.git/config",
    b"/a%20b/50%25/q%3F", b"/%zz", b"/a%2", b"/a%", b"secret", b"*",
    b"http://example.org/../x", b"/a?b#c", b"/a#frag/../..",
]

os.makedirs(OUT, exist_ok=True)
n = 0
for p in PATHS:
    for flags, cap in ((1, 255), (0, 255), (1, 8)):
        with open(os.path.join(OUT, "seed-%02d" % n), "wb") as f:
            f.write(bytes([flags, cap]) + p)
        n += 1
