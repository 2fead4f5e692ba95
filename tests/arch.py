#!/usr/bin/env python3
"""tests/arch.py [BUILD]: the folders are the dependency graph (docs/architecture.md).

Each source file belongs to a module (its name without .c/.h) in a folder. An #include "x.h" is an arrow
from the including module to x's; every arrow must point to the same folder or to one its rule allows
(FOLDERS below), and the modules' arrows must form no cycle. With BUILD, the initrd's /init
(BUILD/ingot-init) must hold no symbol that builder/, sysext/ or cli/ defines. Prints each breach with
file:line and exits 1 on any."""
import os
import re
import subprocess
import sys

# folder: the folders it may include from (besides itself); lib/ bottom-up
FOLDERS = {
    "include": [],
    "lib/base": ["include"],
    "lib/verity": ["include", "lib/base"],
    "lib/sign": ["include", "lib/base", "lib/verity"],
    "lib/image": ["include", "lib/base", "lib/verity", "lib/sign"],
    "lib/profile": ["include", "lib/base", "lib/verity", "lib/sign", "lib/image"],
    "lib/slot": ["include", "lib/base", "lib/verity", "lib/sign", "lib/image", "lib/profile"],
    "lib/delivery": ["include", "lib/base", "lib/verity", "lib/sign", "lib/image", "lib/profile", "lib/slot"],
    "builder": ["include", "lib/*"],
    "sysext": ["include", "lib/*", "builder"],
    "boot": ["include", "lib/*"],
    "cli": ["include", "lib/*", "builder", "sysext"],
}

# Cycles known and scheduled to go: none is left. The check fails when one of these changes or is gone, so
# that the list only shrinks, and on any other.
KNOWN_CYCLES = []


def allowed_arrow(src, dst):
    rule = FOLDERS[src]
    return dst == src or dst in rule or (dst.startswith("lib/") and "lib/*" in rule)


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def sources(top):
    for folder in FOLDERS:
        d = os.path.join(top, folder)
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                yield folder, os.path.join(folder, name)


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = sys.argv[1] if len(sys.argv) > 1 else None
    breaches = []
    headers = {}
    files = list(sources(top))
    for folder, path in files:
        if path.endswith(".h"):
            name = os.path.basename(path)
            if name in headers:
                breaches.append(f"{path}: a header of the same name is in {headers[name][0]}/")
            headers[name] = (folder, path)
    module_of = lambda path: (os.path.dirname(path), os.path.basename(path).rsplit(".", 1)[0])
    arrows = {}
    for folder, path in files:
        me = module_of(path)
        arrows.setdefault(me, set())
        with open(os.path.join(top, path), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = headers.get(m.group(1))
                if not target:
                    breaches.append(f"{path}:{n}: #include \"{m.group(1)}\" is no header of ingot's")
                    continue
                tfolder, tpath = target
                allowed = FOLDERS[folder]
                if not allowed_arrow(folder, tfolder):
                    breaches.append(f"{path}:{n}: #include \"{m.group(1)}\": {folder}/ may not use {tfolder}/ "
                                    f"(it may use {', '.join(a + '/' for a in allowed) or 'nothing'})")
                if module_of(tpath) != me:
                    arrows[me].add(module_of(tpath))
    if build:
        for me, them in symbol_arrows(top, build).items():
            for folder, name in sorted(them):
                if not allowed_arrow(me[0], folder):
                    breaches.append(f"{me[0]}/{me[1]}.c calls into {folder}/{name}.c: {me[0]}/ may not use {folder}/")
            arrows.setdefault(me, set()).update(them)
    # the modules' cycles: strongly connected components of more than one module (Tarjan)
    index, low, stack, on, sccs = {}, {}, [], set(), []
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(arrows.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(sorted(f"{d}/{m}" for d, m in scc))

    for v in sorted(arrows):
        if v not in index:
            visit(v)
    # without BUILD the calls are not known, and a known cycle may show only in part
    known = [sorted(c) for c in KNOWN_CYCLES]
    for scc in sccs:
        if not any(set(scc) <= set(c) if not build else scc == c for c in known):
            breaches.append("a cycle between modules: " + " ".join(scc))
    for c in known if build else []:
        if c not in sccs:
            breaches.append("a known cycle changed or is gone (update KNOWN_CYCLES in tests/arch.py): " + " ".join(c))
    if build:
        breaches += init_symbols(top, build)
    for b in breaches:
        print(b)
    return 1 if breaches else 0


def defined(obj):
    out = subprocess.run(["nm", "--defined-only", obj], capture_output=True, text=True, check=True).stdout
    return {p[2] for p in (l.split() for l in out.splitlines()) if len(p) == 3 and p[1] in "TDRB"}


def undefined(obj):
    out = subprocess.run(["nm", "--undefined-only", obj], capture_output=True, text=True, check=True).stdout
    return {l.split()[-1] for l in out.splitlines() if l.strip()}


def symbol_arrows(top, build):
    """The calls between modules, from the objects: a module that uses a symbol another defines."""
    objs = {}
    for folder in FOLDERS:
        d = os.path.join(build, folder)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith(".o") and os.path.exists(os.path.join(top, folder, name[:-2] + ".c")):
                objs[(folder, name[:-2])] = os.path.join(d, name)
    owner = {}
    for mod, obj in objs.items():
        for sym in defined(obj):
            if sym != "main":
                owner[sym] = mod
    arrows = {}
    for mod, obj in objs.items():
        arrows[mod] = {owner[s] for s in undefined(obj) if s in owner and owner[s] != mod}
    return arrows


def init_symbols(top, build):
    init = os.path.join(build, "ingot-init")
    have = defined(init)
    found = []
    for folder in ("builder", "sysext", "cli"):
        d = os.path.join(build, folder)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith(".o"):
                for sym in sorted(defined(os.path.join(d, name)) & have - {"main"}):
                    found.append(f"{init}: holds {sym} from {folder}/{name[:-2]}.c")
    return found


if __name__ == "__main__":
    sys.exit(main())
