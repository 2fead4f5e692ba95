#!/usr/bin/python3
"""bench/delta-tree.py V1 V2 [PERCENT ADDED REMOVED]: V2 as an update of the tree V1: a copy of it (hard
links: the bytes are shared) with PERCENT of its regular files changed, ADDED new files and REMOVED gone,
each chosen by a fixed seed so that every run measures the same update. A change rewrites a file (the
link broken first) with a few bytes changed in its middle and a line appended, as a patched release
changes a text or a binary; an added file is a copy of another one with a line of its own appended.
Prints nothing: bench/delta-lower-bound.py finds what changed by comparing the trees."""
import os, random, shutil, subprocess, sys

v1, v2 = sys.argv[1], sys.argv[2]
percent = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
added = int(sys.argv[4]) if len(sys.argv) > 4 else 50
removed = int(sys.argv[5]) if len(sys.argv) > 5 else 50
subprocess.run(["cp", "-al", v1, v2], check=True)
files = []
for root, dirs, names in os.walk(v2):
    dirs.sort()
    for n in sorted(names):
        p = os.path.join(root, n)
        if os.path.isfile(p) and not os.path.islink(p):
            files.append(os.path.relpath(p, v2))
rng = random.Random(21)
picked = rng.sample(files, int(len(files) * percent / 100) + removed)
changed, gone = picked[:len(picked) - removed], picked[len(picked) - removed:]
for rel in changed:
    p = os.path.join(v2, rel)
    with open(p, "rb") as f:
        data = bytearray(f.read())
    if data:
        i = len(data) // 2
        data[i:i + 8] = rng.randbytes(min(8, len(data) - i))
    data += b"\n# changed in v2\n"
    os.unlink(p)  # the hard link to V1's bytes broken, not written through
    with open(p, "wb") as f:
        f.write(data)
for rel in gone:
    os.unlink(os.path.join(v2, rel))
sources = rng.sample(files, added)
for k, rel in enumerate(sources):
    dst = os.path.join(v2, os.path.dirname(rel), "added-%d-%s" % (k, os.path.basename(rel)))
    if not os.path.exists(os.path.join(v2, rel)):
        continue
    shutil.copyfile(os.path.join(v2, rel), dst)
    with open(dst, "ab") as f:
        f.write(b"\n# added in v2: %d\n" % k)
