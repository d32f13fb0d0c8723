#!/usr/bin/env python3
"""Foreign key formats benchmark (figures in docs/rules.md, "Foreign formats").

usage: bench/foreign-formats.py [--leakhound PATH] [--mirror DIR] [--seed N]
                                [--per-provider] [--misses FILE] [--keep DIR]

Reads the public rule-test material of three peers from snapshots brought
with the search tool's `fetch` (nothing of theirs is committed here):

  gitleaks    github:gitleaks/gitleaks      cmd/generate/config/rules/*.go
  betterleaks github:betterleaks/betterleaks cmd/generate/config/rules/*.go
  kingfisher  github:mongodb/kingfisher     data/rules/*.yml

From the Go files it evaluates the `tps` and `fps` lists handed to
`utils.Validate(r, tps, fps)`: string literals, `+`, `fmt.Sprintf`,
`utils.GenerateSampleSecret(s)` (the same assignment shapes the peers
generate) and `secrets.NewSecret(regex)`, for which it draws a random value
from the regex (seeded: the same corpus every run). From the YAML files it
takes `examples` and `negative_examples` (not of helper rules marked
`visible: false`, whose examples are host names). True-positive texts that are
placeholders (`xxxx`, `****`, `...`, `<...>`, `${`, `1234`, `abcd`, `a1b2c3`,
`abc123`, `123e4567` (the documentation UUID), `9876`, `xyzxyz`, `your_key`,
one character repeated 8 times) are dropped: the corpus is the realistic
ones.

True-positive texts holding a made-up value are dropped as well, by the
same structural test leakhound's placeholder filter applies
(src/engine/filters.rs, `is_made_up`): a token of 16 to 128 characters
whose letters (case folded) or digits, read alone, count eight in order
(`1a2b3c4d5e6f7g8h…`, `aB1cD2eF3gH4…`, `…45678901`), or that holds a
block of 12 letters and digits twice (`R7mQ2vN9xK4p…R7mQ2vN9xK4p…`).
`--keep-made-up` keeps them (the corpus before this test was added).

Some negatives are no false positive of ours: the peer lists them negative
for its own rule's sake (a provider name missing near the value, one
character short of its exact length, a token boundary), but the value is a
real-shaped key that a leakhound rule legitimately reports: a random value
assigned to a secret's name, a signed JWT, a key of another provider's
documented shape. They are listed in CLASS_D below (by a hash of the text,
with the reason) and reported apart: the false-positive rate is printed
over all negatives and over the negatives without them.

Each text is written to its own file and scanned once with
`leakhound scan --no-ignore --format jsonl`; a true positive is found when
any finding lies in its file, a negative is a false positive when any
finding does. Prints recall per provider (with --per-provider), per peer and
overall, and the false-positive rate on the negatives.

The snapshots: mirror directories /work/.mirror/<owner>+<name>/repo (bare
git directories; the newest commit is read with `git show`).
"""
import argparse
import collections
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import re._parser as sre_parse  # Python 3.11+
    import re._constants as sre_c
except ImportError:  # pragma: no cover
    import sre_parse
    import sre_constants as sre_c

import yaml

PEERS = [
    ("gitleaks", "gitleaks+gitleaks", "cmd/generate/config/rules/", ".go"),
    ("betterleaks", "betterleaks+betterleaks", "cmd/generate/config/rules/", ".go"),
    ("kingfisher", "mongodb+kingfisher", "data/rules/", ".yml"),
]

PLACEHOLDER = re.compile(
    r"(?i)x{4,}|\*{4,}|\.\.\.|…|<[a-z_ -]{3,}>|\$\{|\{\{|1234|abcd|a1b2c3|abc123|123e4567|9876|xyzxyz|"
    r"your[_-]?(api|key|token|secret|access|app|client)|placeholder|redacted|"
    r"(.)\2{7,}"
)

TOKEN_RUN = re.compile(r"[A-Za-z0-9_+/=.-]{16,}")


def _longest_run(seq, follows):
    best = cur = 1 if seq else 0
    for a, b in zip(seq, seq[1:]):
        cur = cur + 1 if follows(a, b) else 1
        best = max(best, cur)
    return best


def made_up(text):
    """Does a token of `text` count out letters or digits, or repeat a block
    (the test of src/engine/filters.rs `is_made_up`)?"""
    for m in TOKEN_RUN.finditer(text):
        v = m.group()
        if len(v) > 128:
            continue
        letters = [c.lower() for c in v if c.isascii() and c.isalpha()]
        digits = [c for c in v if c.isdigit()]
        if _longest_run(letters, lambda a, b: ord(b) == ord(a) + 1) >= 8:
            return True
        if _longest_run(digits, lambda a, b: ord(b) == ord(a) + 1 or (a, b) == ("9", "0")) >= 8:
            return True
        if any(v[i : i + 12] in v[i + 12 :] and re.search(r"[A-Za-z]", v[i : i + 12]) and re.search(r"[0-9]", v[i : i + 12]) for i in range(len(v) - 23)):
            return True
    return False


# Negatives that are real-shaped keys a leakhound rule legitimately reports
# (class d): sha256(text)[:16] -> why. Keyed by a hash: the peers' text is
# theirs, not ours to copy.
CLASS_D = {
    "b9837ff3cbe63ca0": "a signed JWT (HS256 header, payload, 43-character signature) in an Authorization header; "
    "negative for the peer's curl rule only because its Basic branch wants base64 of user:password",
    "94d36be7b191bd7c": "a Mailchimp key of the documented shape (32 hex + -usNN) passed to the Mailchimp SDK; "
    "gitleaks' own comment on it says `False Negative`: its rule misses the call's syntax",
    "df6785d576117eb6": "a random 40-character value assigned to a Meraki API key name; negative for the peer's "
    "Meraki rule (lower-case hex only), reported by the generic rule as a random value under a secret's name",
    "a9f1472bd1b2472e": "a random 67-character value assigned to a Meraki token name; negative for the peer's "
    "exact-length Meraki rule, reported by the generic rule",
    "e87703a93a2c24d4": "32 random hex assigned to api_key; negative for the peer only because no Amplitude name is near",
    "4d739746158e5b0d": "a random 36-character token after an upper-cased Apify prefix assigned to a token name; "
    "negative for the peer's case-sensitive prefix",
    "991c36c3ebd823ea": "an Apify token with a suffix, assigned to a token name; negative for the peer's token "
    "boundary; still a random value under a secret's name",
    "975814b50f2cde71": "an Apify token with a suffix in a token= query parameter; negative for the peer's token "
    "boundary; still a random value under a secret's name",
    "df21cd4c545b1402": "40 random hex assigned to `token`; negative for the peer only because no Bitly name is near",
    "f31d1032289e8d95": "39 random hex assigned to a Bitly token name; negative for the peer's exact length",
    "ec050ebc1d31abdb": "a random 24-character value under a Brave API key name; negative for the peer's minimum length",
    "252d70ef16b6cead": "a Buildkite token with a suffix assigned to a token name; negative for the peer's token "
    "boundary; still a random value under a secret's name",
    "ef5cd7442aeef268": "a Canva client secret one character short of the peer's exact length, under a client "
    "secret's name",
    "8302d9d6557cef71": "a ClickUp personal token (pk_<user id>_<32>, the documented prefix) with no ClickUp name "
    "near; the peer's rule wants the name, ours the prefix",
    "11f611f44ea0cac3": "a ClickUp personal token (pk_<user id>_<32>) whose user id has 7 digits; the peer's rule "
    "wants 8 or 9, leakhound's takes a user id of any length",
    "d44d86f454e7139d": "a Devin personal key (apk_user_…): a true positive of the peer's own personal-key rule, "
    "listed negative for its service-key rule in the same file",
    "f58e382ebb861814": "an 86-character InfluxDB-shaped token under `token`; negative for the peer only because "
    "no Influx name is near",
    "b1c321b47a830b30": "a signed JWT (HS256, 43-character signature) assigned to a variable; negative for the "
    "peer's Scalr rule (no Scalr name); leakhound's JWT rule reports any signed JWT",
    "989c044ad1db1e5e": "a Supabase secret key one character short of the peer's exact length, under an API key name",
    "e489f4d6b652dcfa": "a Telnyx-shaped key (KEY + 55) under API_KEY; negative for the peer only because no "
    "Telnyx name is near",
    "2f7236ece0378473": "a signed JWT (HS256) under a Temporal API key name; negative for the peer's Temporal "
    "rule, which wants Temporal's claims; a signed JWT under a key's name is a credential",
    "425c65ed4499541d": "a WorkOS-shaped key (sk_live_ + base64 of key_…) under a Stripe variable name; negative "
    "for the peer only because of the variable's name",
}


def text_hash(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- regex -> text


def gen_from_regex(pattern, rng):
    """A random string matching a simple regex (Go and Python agree on the
    subset the peers' generators use)."""
    pattern = pattern.replace(r"\z", "")
    tree = sre_parse.parse(pattern)
    return "".join(_gen(tree, rng))


PRINTABLE = [chr(c) for c in range(33, 127)]


def _in_set(items, rng):
    chars = []
    negate = False
    for op, av in items:
        if op == sre_c.NEGATE:
            negate = True
        elif op == sre_c.LITERAL:
            chars.append(chr(av))
        elif op == sre_c.RANGE:
            chars.extend(chr(c) for c in range(av[0], av[1] + 1))
        elif op == sre_c.CATEGORY:
            chars.extend(_category(av))
    if negate:
        chars = [c for c in PRINTABLE if c not in chars]
    return rng.choice(chars)


def _category(cat):
    if cat == sre_c.CATEGORY_DIGIT:
        return list("0123456789")
    if cat == sre_c.CATEGORY_WORD:
        return list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
    if cat == sre_c.CATEGORY_SPACE:
        return [" "]
    if cat == sre_c.CATEGORY_NOT_DIGIT:
        return list("abcdefghijklmnopqrstuvwxyz")
    return list("abcdefghijklmnopqrstuvwxyz")


def _gen(tree, rng):
    out = []
    for op, av in tree:
        if op == sre_c.LITERAL:
            out.append(chr(av))
        elif op == sre_c.NOT_LITERAL:
            out.append(rng.choice([c for c in PRINTABLE if ord(c) != av]))
        elif op == sre_c.ANY:
            out.append(rng.choice(PRINTABLE[15:]))
        elif op == sre_c.IN:
            out.append(_in_set(av, rng))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            if hi == sre_c.MAXREPEAT:
                hi = lo + 1
            for _ in range(rng.randint(lo, hi)):
                out.extend(_gen(sub, rng))
        elif op == sre_c.SUBPATTERN:
            out.extend(_gen(av[-1], rng))
        elif op == sre_c.BRANCH:
            out.extend(_gen(rng.choice(av[1]), rng))
        elif op == sre_c.CATEGORY:
            out.append(rng.choice(_category(av)))
        # AT (anchors), ASSERT and the like produce nothing
    return out


# ---------------------------------------------------------------- Go subset

TOKEN = re.compile(
    r"""(?P<ws>[ \t\r]+)|(?P<nl>\n)|(?P<lc>//[^\n]*)|(?P<bc>/\*.*?\*/)|"""
    r"""(?P<raw>`[^`]*`)|(?P<str>"(?:\\.|[^"\\\n])*")|(?P<rune>'(?:\\.|[^'\\\n])+')|"""
    r"""(?P<num>[0-9][0-9_.xXa-fA-F]*)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|"""
    r"""(?P<op>\.\.\.|:=|\+=|==|!=|<=|>=|&&|\|\||<-|[-+*/%&|^<>=!(){}\[\],;:.])""",
    re.S,
)


def go_unquote(s):
    body = s[1:-1]
    out = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in simple:
            out.append(simple[n])
            i += 2
        elif n == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif n == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif n == "U":
            out.append(chr(int(body[i + 2 : i + 10], 16)))
            i += 10
        else:
            out.append(chr(int(body[i + 1 : i + 4], 8)))
            i += 4
    return "".join(out)


def tokenize(src):
    toks = []
    pos = 0
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m:
            pos += 1
            continue
        pos = m.end()
        kind = m.lastgroup
        text = m.group()
        if kind in ("ws", "lc"):
            continue
        if kind == "bc":
            if "\n" in text:
                kind, text = "nl", "\n"
            else:
                continue
        if kind == "nl":
            # Go's automatic semicolon insertion
            if toks and (toks[-1][0] in ("id", "str", "raw", "num", "rune") or toks[-1][1] in (")", "]", "}")):
                toks.append(("op", ";"))
            continue
        toks.append((kind, text))
    return toks


class Eval:
    """Evaluates the expressions that build the peers' test lists."""

    SAMPLE_SHAPES = None  # filled from the peer's generate.go

    def __init__(self, toks, env, rng, shapes):
        self.toks = toks
        self.i = 0
        self.env = env
        self.rng = rng
        self.shapes = shapes

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def take(self, text=None):
        t = self.peek()
        if text is not None and t[1] != text:
            raise ValueError(f"expected {text}, got {t}")
        self.i += 1
        return t

    def expr(self):
        v = self.unary()
        while self.peek()[1] == "+":
            self.take()
            w = self.unary()
            if not isinstance(v, str) or not isinstance(w, str):
                raise ValueError("+ on non-strings")
            v = v + w
        return v

    def args(self):
        self.take("(")
        out = []
        while self.peek()[1] != ")":
            v = self.expr()
            if self.peek()[1] == "...":
                self.take()
                v = ("spread", v)
            out.append(v)
            if self.peek()[1] == ",":
                self.take()
            elif self.peek()[1] == ";":
                self.take()
        self.take(")")
        return out

    def unary(self):
        kind, text = self.take()
        if kind in ("str",):
            return go_unquote(text)
        if kind == "raw":
            return text[1:-1]
        if kind == "num":
            return text
        if text == "[":
            self.take("]")
            self.take()  # element type
            return self.composite()
        if text == "(":
            v = self.expr()
            self.take(")")
            return v
        if kind != "id":
            raise ValueError(f"unexpected {text}")
        name = text
        while self.peek()[1] == "." and self.peek(1)[0] == "id":
            self.take()
            name += "." + self.take()[1]
        if self.peek()[1] == "(":
            return self.call(name, self.args())
        if self.peek()[1] == "{":
            raise ValueError("struct literal")
        if name in self.env:
            return self.env[name]
        raise ValueError(f"unknown name {name}")

    def composite(self):
        self.take("{")
        out = []
        while self.peek()[1] != "}":
            if self.peek()[1] == ";":
                self.take()
                continue
            out.append(self.expr())
            if self.peek()[1] == ",":
                self.take()
        self.take("}")
        return out

    def call(self, name, args):
        short = name.split(".")[-1]
        if short in ("Numeric", "Hex", "AlphaNumeric", "AlphaNumericExtendedShort", "AlphaNumericExtended", "AlphaNumericExtendedLong"):
            cls = {
                "Numeric": "[0-9]",
                "Hex": "[a-f0-9]",
                "AlphaNumeric": "[a-z0-9]",
                "AlphaNumericExtendedShort": "[a-z0-9_-]",
                "AlphaNumericExtended": r"[a-z0-9=_\-]",
                "AlphaNumericExtendedLong": r"[a-z0-9\/=_\+\-]",
            }[short]
            return f"{cls}{{{args[0]}}}"
        if short == "Hex8_4_4_4_12":
            return r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
        if name in ("secrets.NewSecret", "NewSecret"):
            return gen_from_regex(args[0], self.rng)
        if name == "fmt.Sprintf":
            fmt = args[0]
            rest = [a for a in args[1:]]
            def sub(m):
                if m.group() == "%%":
                    return "%"
                return str(rest.pop(0))
            return re.sub(r"%[-+# 0-9.]*[sdvqx%]", sub, fmt)
        if name == "strings.Repeat":
            return args[0] * int(args[1])
        if name in ("strings.ToUpper",):
            return args[0].upper()
        if name in ("strings.ToLower",):
            return args[0].lower()
        if short == "GenerateSampleSecret":
            return f'{args[0]}_api_token = "{args[1]}"'
        if short == "GenerateSampleSecrets":
            ident, secret = args[0], args[1]
            return [s.replace("{i}", ident).replace("{I}", ident.upper()).replace("{s}", secret) for s in self.shapes]
        if name == "append":
            base = list(args[0])
            for a in args[1:]:
                if isinstance(a, tuple) and a[0] == "spread":
                    base.extend(a[1])
                else:
                    base.append(a)
            return base
        raise ValueError(f"unknown call {name}")


def sample_shapes(src):
    """The `samples` map of the peer's GenerateSampleSecrets."""
    m = re.search(r"func GenerateSampleSecrets\(.*?samples := map\[string\]string\{(.*?)\n\t\}", src, re.S)
    if not m:
        return ['{i}Token = "{s}"', "{I}_TOKEN={s}", "{i}_token: '{s}'"]
    shapes = []
    toks = tokenize(m.group(1))
    i = 0
    while i < len(toks):
        if toks[i][0] in ("str", "raw") and i + 2 < len(toks) and toks[i + 1][1] == ":" and toks[i + 2][0] in ("str", "raw"):
            v = toks[i + 2]
            shapes.append(go_unquote(v[1]) if v[0] == "str" else v[1][1:-1])
            i += 3
        else:
            i += 1
    return shapes


def go_cases(src, rng, shapes):
    """(tps, fps) of every utils.Validate call in one Go rule file."""
    toks = tokenize(src)
    # split into statements
    stmts, cur, depth = [], [], 0
    for t in toks:
        if t[1] in ("(", "[", "{"):
            depth += 1
        elif t[1] in (")", "]", "}"):
            depth -= 1
        if t[1] == ";" and depth >= 0:
            if cur:
                stmts.append(cur)
            cur = []
            if depth <= 0:
                depth = 0
            continue
        cur.append(t)
    if cur:
        stmts.append(cur)
    env = {}
    tps, fps = [], []
    for st in stmts:
        texts = [t[1] for t in st]
        if texts and texts[0] == "func":
            env = {}
            # the body's first statement may share the line with `func ... {`
            if "{" in texts:
                k = len(texts) - 1 - texts[::-1].index("{")
                st = st[k + 1 :]
                texts = texts[k + 1 :]
        if texts[:1] in (["for"], ["if"], ["}"]):
            if "{" in texts:
                k = texts.index("{")
                st = st[k + 1 :]
                texts = texts[k + 1 :]
            else:
                continue
        if not texts:
            continue
        try:
            if texts[0] == "return" and "Validate" in texts[:4] or (texts[0] == "return" and any(x.startswith("Validate") for x in texts[1:5])):
                ev = Eval(st[1:], env, rng, shapes)
                name = ev.take()[1]
                while ev.peek()[1] == ".":
                    ev.take()
                    name += "." + ev.take()[1]
                ev.take("(")
                ev.take()  # r
                ev.take(",")
                a = ev.expr()
                ev.take(",")
                b = ev.expr() if ev.peek()[1] != "nil" else None
                tps.extend(x for x in (a or []) if isinstance(x, str))
                fps.extend(x for x in (b or []) if isinstance(x, str))
                continue
            if texts[0] == "var" and len(texts) > 3:
                eq = texts.index("=") if "=" in texts else None
                if eq is None:
                    continue
                env[texts[1]] = Eval(st[eq + 1 :], env, rng, shapes).expr()
            elif len(texts) > 2 and texts[1] in (":=", "=") and st[0][0] == "id":
                env[texts[0]] = Eval(st[2:], env, rng, shapes).expr()
        except (ValueError, IndexError, KeyError, TypeError, re.error):
            if len(texts) > 2 and texts[1] in (":=", "="):
                env.pop(texts[0], None) if texts[0] not in ("tps", "fps") else None
            continue
    return tps, fps


# ---------------------------------------------------------------- corpus


def git_show(repo, path):
    return subprocess.run(["git", "--git-dir", repo, "show", f"HEAD:{path}"], capture_output=True, text=True, errors="replace").stdout


def git_ls(repo, prefix):
    out = subprocess.run(["git", "--git-dir", repo, "ls-tree", "--name-only", "HEAD", prefix], capture_output=True, text=True).stdout
    return [p for p in out.splitlines() if p]


def corpus(mirror, seed, keep_made_up=False):
    """[(peer, provider, kind 'tp'|'fp', text)]"""
    items = []
    for peer, name, prefix, ext in PEERS:
        repo = os.path.join(mirror, name, "repo")
        if not os.path.isdir(repo):
            print(f"warning: no snapshot at {repo} (fetch github:{name.replace('+', '/')})", file=sys.stderr)
            continue
        rng = random.Random(f"{seed}-{peer}")
        if ext == ".go":
            shapes = sample_shapes(git_show(repo, "cmd/generate/config/utils/generate.go"))
            for path in git_ls(repo, prefix):
                if not path.endswith(ext) or path.endswith("_test.go"):
                    continue
                provider = os.path.basename(path)[: -len(ext)]
                tps, fps = go_cases(git_show(repo, path), rng, shapes)
                items += [(peer, provider, "tp", t) for t in tps]
                items += [(peer, provider, "fp", t) for t in fps]
        else:
            for path in git_ls(repo, prefix):
                if not path.endswith(ext):
                    continue
                provider = os.path.basename(path)[: -len(ext)]
                try:
                    doc = yaml.safe_load(git_show(repo, path)) or {}
                except yaml.YAMLError:
                    continue
                for rule in doc.get("rules") or []:
                    if rule.get("visible") is False:
                        continue  # a helper rule (a host name another rule depends on)
                    for t in rule.get("examples") or []:
                        items.append((peer, provider, "tp", str(t)))
                    for t in rule.get("negative_examples") or []:
                        items.append((peer, provider, "fp", str(t)))
    seen = set()
    out = []
    for it in items:
        peer, provider, kind, text = it
        text = text.strip("\n")
        if not text.strip():
            continue
        if kind == "tp" and (PLACEHOLDER.search(text) or (not keep_made_up and made_up(text))):
            continue
        key = (peer, kind, text)
        if key in seen:
            continue
        seen.add(key)
        out.append((peer, provider, kind, text))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--leakhound", default=None, help="binary (default: cargo run)")
    ap.add_argument("--mirror", default="/work/.mirror")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--per-provider", action="store_true")
    ap.add_argument("--misses", default=None, help="write missed tps and hit fps here (JSON lines)")
    ap.add_argument("--keep", default=None, help="write the corpus into this directory and keep it")
    ap.add_argument("--keep-made-up", action="store_true", help="keep true positives whose value is made up")
    a = ap.parse_args()

    items = corpus(a.mirror, a.seed, a.keep_made_up)
    if not items:
        sys.exit("no corpus: fetch the peers' repositories first")
    root = a.keep or tempfile.mkdtemp(prefix="foreign-formats-")
    if a.keep:
        shutil.rmtree(root, ignore_errors=True)
    paths = []
    for n, (peer, provider, kind, text) in enumerate(items):
        d = os.path.join(root, kind, peer, provider)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, f"c{n:05d}.txt")
        with open(p, "w") as f:
            f.write(text + "\n")
        paths.append(p)

    cmd = [a.leakhound] if a.leakhound else ["cargo", "run", "-q", "--"]
    res = subprocess.run(cmd + ["scan", "--no-ignore", "--format", "jsonl", root], capture_output=True, text=True)
    if res.returncode not in (0, 1):
        sys.exit(f"leakhound failed ({res.returncode}): {res.stderr[-2000:]}")
    hits = collections.defaultdict(list)
    for line in res.stdout.splitlines():
        try:
            f = json.loads(line)
        except json.JSONDecodeError:
            continue
        path = f.get("path") or f.get("file") or (f.get("location") or {}).get("path")
        if not path:
            continue
        full = path if os.path.isabs(path) else os.path.join(root, path)
        hits[os.path.normpath(full)].append(f.get("rule_id") or f.get("rule"))

    per_peer = collections.defaultdict(lambda: [0, 0, 0, 0])  # tp found, tp total, fp hit, fp total
    class_d = collections.defaultdict(lambda: [0, 0])  # peer -> [hit, total] of class (d) negatives
    class_d_hits = []
    per_prov = collections.defaultdict(lambda: [0, 0])
    misses = []
    for (peer, provider, kind, text), p in zip(items, paths):
        found = bool(hits.get(os.path.normpath(p)))
        s = per_peer[peer]
        if kind == "tp":
            s[0] += found
            s[1] += 1
            per_prov[provider][0] += found
            per_prov[provider][1] += 1
            if not found:
                misses.append({"peer": peer, "provider": provider, "kind": "missed", "text": text})
        else:
            s[2] += found
            s[3] += 1
            reason = CLASS_D.get(text_hash(text))
            if reason:
                class_d[peer][0] += found
                class_d[peer][1] += 1
                if found:
                    class_d_hits.append((peer, provider, reason))
            if found:
                misses.append({"peer": peer, "provider": provider, "kind": "fp", "rules": hits[os.path.normpath(p)],
                               "class_d": reason, "text": text})
    if a.per_provider:
        print(f"{'provider':<28} found/total  recall")
        for prov in sorted(per_prov):
            f, t = per_prov[prov]
            print(f"{prov:<28} {f:>5}/{t:<5}  {100.0 * f / t:5.1f}%")
        print()
    def pct(a, b):
        return 100.0 * a / max(b, 1)

    tot = [0, 0, 0, 0]
    dtot = [0, 0]
    print(f"{'peer':<12} {'recall':>18} {'false positives':>22} {'without class (d)':>22}")
    for peer in sorted(per_peer):
        s = per_peer[peer]
        d = class_d[peer]
        tot = [x + y for x, y in zip(tot, s)]
        dtot = [x + y for x, y in zip(dtot, d)]
        print(f"{peer:<12} {s[0]:>5}/{s[1]:<5} {pct(s[0], s[1]):5.1f}%   {s[2]:>5}/{s[3]:<5} {pct(s[2], s[3]):5.1f}%"
              f"   {s[2] - d[0]:>5}/{s[3] - d[1]:<5} {pct(s[2] - d[0], s[3] - d[1]):5.1f}%")
    print(f"{'overall':<12} {tot[0]:>5}/{tot[1]:<5} {pct(tot[0], tot[1]):5.1f}%   {tot[2]:>5}/{tot[3]:<5} {pct(tot[2], tot[3]):5.1f}%"
          f"   {tot[2] - dtot[0]:>5}/{tot[3] - dtot[1]:<5} {pct(tot[2] - dtot[0], tot[3] - dtot[1]):5.1f}%")
    print()
    print(f"class (d): {dtot[1]} negatives are real-shaped keys a leakhound rule legitimately reports; "
          f"{dtot[0]} of them are reported:")
    for peer, provider, reason in class_d_hits:
        print(f"  {peer}/{provider}: {reason}")
    if a.misses:
        with open(a.misses, "w") as f:
            for m in misses:
                f.write(json.dumps(m) + "\n")
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
