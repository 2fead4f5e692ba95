#!/usr/bin/env python3
"""tests/lint.py [SCRIPT...]: refuses test code that cannot fail.

The integration scripts run each test under `set -e`, and bash ignores `set -e` in more places than
it keeps it. This lint finds the places where a check would silently pass:

  negation      `! cmd` as a statement: set -e ignores an inverted status; end it in `|| return 1`.
  and-list      `a && b` as a statement: when a fails, nothing does; write two statements.
  helper        a function of tests/lib.sh or of the script used where its status is dropped or
                set -e is off inside it: in `$(…)`, `<(…)`, before `|`, `||` or `&&`, or after
                `if`, `while`, `until` or `!`. That is allowed only for a helper whose every step
                returns its failure explicitly (`|| return 1`; only its last statement may go bare).

Prints FILE:LINE: RULE: TEXT for each finding; exits 1 when there is one.
"""
import os
import re
import sys

KEYWORDS_CLOSE = {"}", "fi", "done", "esac", ";;", "else", "then", "do", "{"}
SAFE_PREFIXES = ("local ", "read ", "declare ", "shift", "set +e", "set -e", "return", "exit", "echo ", "echo",
                 "printf ", "skip_test ", "rm -f", "rm -rf", ": ", "export ", "trap ", "shopt ", "case ")
NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def statements(path):
    """Logical statements of a bash file: (first line number, raw text, code), where code has quoted
    text blanked out and heredoc bodies dropped, and a statement spans continued and quoted lines."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    i = 0
    heredocs = []
    raw_parts, code_parts, start = [], [], None
    quote = None  # None, "'", '"'
    while i < len(lines):
        line = lines[i]
        i += 1
        if heredocs and quote is None:
            term, strip = heredocs[0]
            if (line.lstrip("\t") if strip else line) == term:
                heredocs.pop(0)
            continue
        if start is None:
            start = i
        code = []
        j = 0
        while j < len(line):
            c = line[j]
            if quote == "'":
                if c == "'":
                    quote = None
                    code.append("'")
                else:
                    code.append("Q")
            elif quote == '"':
                if c == "\\" and j + 1 < len(line):
                    code.append("QQ")
                    j += 1
                elif c == '"':
                    quote = None
                    code.append('"')
                else:
                    code.append("Q")
            else:
                if c == "#" and (j == 0 or line[j - 1] in " \t;"):
                    break
                if c == "\\" and j + 1 < len(line):
                    code.append("\\" + line[j + 1])
                    j += 1
                elif c in "'\"":
                    quote = c
                    code.append(c)
                else:
                    code.append(c)
            j += 1
        code = "".join(code)
        # a heredoc's word is quoted in the raw line (blanked in code): find it there, where code has <<
        nomath = re.sub(r"\$\(\(.*?\)\)", lambda m: " " * len(m.group(0)), code)
        for m in re.finditer(r"(?<!<)<<(?!<)", nomath):
            w = re.match(r"(-?)\s*(['\"]?)(\w+)\2", line[m.end():])
            if w:
                heredocs.append((w.group(3), w.group(1) == "-"))
        raw_parts.append(line)
        code_parts.append(code)
        stripped = code.rstrip()
        depth = sum(p.count("(") - p.count(")") for p in code_parts)
        if quote is not None or depth > 0 or stripped.endswith(("\\", "|", "&&", "||")):
            continue
        out.append((start, "\n".join(raw_parts), " ".join(p.rstrip("\\") for p in code_parts)))
        raw_parts, code_parts, start = [], [], None
    return out


def functions(stmts):
    """NAME -> list of body statements (code), for every `NAME() {` definition."""
    funcs = {}
    cur, body = None, []
    for _, raw, code in stmts:
        m = re.match(r"\s*(" + NAME + r")\(\)\s*\{(.*)$", code)
        if cur is None and m:
            rest = m.group(2).strip()
            if rest.endswith("}"):  # one line
                funcs[m.group(1)] = [s.strip() for s in split_top(rest[:-1], ";") if s.strip()]
            else:
                cur, body = m.group(1), ([rest] if rest else [])
            continue
        if cur is not None:
            if code.strip() == "}" and not raw.startswith((" ", "\t")):
                funcs[cur] = body
                cur = None
            else:
                body.append(code.strip())
    return funcs


def split_top(code, sep):
    """code split on sep where it stands outside $( ) and ( ); sep is ';', '|', '||' or '&&'."""
    parts, depth, cur, j = [], 0, "", 0
    while j < len(code):
        if code.startswith("$(", j) or code[j] == "(":
            depth += 1
        elif code[j] == ")":
            depth -= 1
        if depth == 0 and code.startswith(sep, j):
            nxt = code[j + len(sep):j + len(sep) + 1]
            prv = code[j - 1:j] if j else ""
            single = sep in ("|", ";", "&")
            if not single or (nxt != sep[0] and prv != sep[0]):
                parts.append(cur)
                cur = ""
                j += len(sep)
                continue
        cur += code[j]
        j += 1
    parts.append(cur)
    return parts


def explicit(body):
    """A helper body whose every step returns its failure: each statement handles it (`||`), is one
    that cannot fail a check, or is the last."""
    stmts = [s for s in body if s and not s.startswith("#")]
    lax = False
    for n, s in enumerate(stmts):
        if s.startswith("set +e"):
            lax = True
        if s.startswith("set -e"):
            lax = False
            continue
        if lax or "||" in s or s in KEYWORDS_CLOSE:
            continue
        if n == len(stmts) - 1:
            continue
        if s.startswith(("local ", "declare ")) and "$(" in s:
            return False  # `local x=$(cmd)` has local's status, never cmd's
        if s.startswith(SAFE_PREFIXES):
            continue
        if re.match(r"(if|elif|while|until|for|case)\b", s) or re.match(r"(fi|done|esac|else)\b", s):
            continue
        if re.match(NAME + r"=", s) and "$(" not in s and "`" not in s:
            continue
        return False
    return True


def first_word(seg):
    seg = seg.strip()
    seg = re.sub(r"^(!\s*)", "", seg)
    while True:
        m = re.match(NAME + r"=\S*\s+", seg)
        if not m:
            break
        seg = seg[m.end():]
    m = re.match(NAME, seg)
    return m.group(0) if m else None


def lint(path, lib_funcs):
    stmts = statements(path)
    own = functions(stmts)
    funcs = dict(lib_funcs)
    funcs.update(own)
    ok = {name: explicit(body) for name, body in funcs.items()}
    found = []
    for line, raw, code in stmts:
        c = code.strip()
        if re.match(NAME + r"\(\)\s*\{", c):
            c = re.sub(r"^" + NAME + r"\(\)\s*\{", "", c).strip()
        uses = set()
        for stmt in split_top(c, ";"):
            s = stmt.strip()
            s = re.sub(r"^(then|do|else)\s+", "", s)
            if not s:
                continue
            if re.match(r"!\s", s) and "||" not in s:
                found.append((line, "negation", "'! cmd' cannot fail a test: end it in '|| return 1'"))
            cond = re.match(r"(if|elif|while|until)\s", s)
            if (len(split_top(s, "&&")) > 1 and not cond and "||" not in s and not s.startswith("(")
                    and not re.search(r"&&\s*(break|continue|return|exit|skip_test)\b", s)):
                found.append((line, "and-list", "'a && b' as a statement: a failing a passes; write two statements"))
            for seg in split_top(s, "||")[:-1] + split_top(s, "&&")[:-1]:
                uses.add(first_word(re.sub(r"^(if|elif|while|until)\s+", "", seg.strip())))
            for seg in split_top(s, "|")[:-1]:
                uses.add(first_word(seg))
            if cond or re.match(r"!\s", s):
                uses.add(first_word(re.sub(r"^(if|elif|while|until)\s+", "", s)))
        # command and process substitutions: in the raw text, outside single quotes
        bare = re.sub(r"'[^']*'", "''", raw)
        for m in re.finditer(r"[$<]\(\s*(" + NAME + r")", bare):
            uses.add(m.group(1))
        for name in sorted(u for u in uses if u):
            if name in funcs and not ok[name]:
                found.append((line, "helper", "%s is used where set -e is off or its status is dropped, "
                              "but not every step of it returns its failure (add '|| return 1')" % name))
    return [(path, n, rule, msg) for n, rule, msg in found]


def main():
    top = os.path.dirname(os.path.abspath(__file__))
    lib = os.path.join(top, "lib.sh")
    scripts = sys.argv[1:] or sorted(os.path.join(top, "integration", f)
                                     for f in os.listdir(os.path.join(top, "integration")) if f.endswith(".sh"))
    lib_funcs = functions(statements(lib))
    found = lint(lib, {})
    for s in scripts:
        found += lint(s, lib_funcs)
    for path, n, rule, msg in sorted(set(found)):
        print("%s:%d: %s: %s" % (os.path.relpath(path), n, rule, msg))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
