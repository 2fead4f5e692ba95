#!/usr/bin/python3
"""bench/delta-bytes.py OLD.blocks NEW.blocks: what an install of NEW over OLD fetches by the block index:
the bytes of NEW's extents whose SHA-256 no extent of OLD has (each distinct one once), by kind.
Prints JSON: {"image": NEW's size, "fetched": bytes, "extents": count, "by_kind": {kind: bytes}}."""
import json, sys

old = json.load(open(sys.argv[1]))
new = json.load(open(sys.argv[2]))
have = {e[3] for e in old["extents"]}
seen, by_kind, fetched, count = set(), {}, 0, 0
for off, size, kind, sha in new["extents"]:
    if sha in have or sha in seen:
        continue
    seen.add(sha)
    fetched += size
    count += 1
    by_kind[kind] = by_kind.get(kind, 0) + size
print(json.dumps({"image": new["size"], "fetched": fetched, "extents": count, "by_kind": by_kind}))
