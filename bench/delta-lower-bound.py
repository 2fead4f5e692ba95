#!/usr/bin/python3
"""bench/delta-lower-bound.py V1 V2 NEW.blocks LEVEL: the least an update from tree V1 to tree V2 can fetch:
each regular file of V2 that V1 does not hold with the same bytes at the same path, compressed alone with
zstd at LEVEL, plus the new image's metadata tables and superblock (its block index's extents of those
kinds), which every update rewrites. Prints JSON: {"files", "content", "metadata", "bound"} (bytes)."""
import hashlib, json, os, subprocess, sys

v1, v2, blocks, level = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


def same(a, b):
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except FileNotFoundError:
        return False
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    if sa.st_size != sb.st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return hashlib.sha256(fa.read()).digest() == hashlib.sha256(fb.read()).digest()


files = content = 0
for root, dirs, names in os.walk(v2):
    for n in names:
        p = os.path.join(root, n)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        rel = os.path.relpath(p, v2)
        if same(os.path.join(v1, rel), p):
            continue
        files += 1
        z = subprocess.run(["zstd", "-q", "-c", "-%s" % level, p], check=True, stdout=subprocess.PIPE)
        content += len(z.stdout)
index = json.load(open(blocks))
metadata = sum(e[1] for e in index["extents"] if e[2] in ("metadata", "superblock"))
print(json.dumps({"files": files, "content": content, "metadata": metadata, "bound": content + metadata}))
