#!/usr/bin/env python3
"""Generate a deterministic, source-like tree with planted secrets for benchmarks.

usage: gen_tree.py OUTDIR [--size-mb 1024] [--seed 1] [--keys N] [--force]

Writes
  OUTDIR/repo/          the tree to scan (~SIZE MiB: many dirs, text files of
                        1 KB-200 KB in a dozen languages, long lines, minified JS,
                        a few multi-MB files, a few binary files, hidden .env files)
  OUTDIR/planted.json   every planted key (path relative to OUTDIR/repo, 1-based
                        line and column, secret, kind) and every planted
                        documentation placeholder (which a scanner must NOT report)

planted.json lives outside repo/ on purpose: a scan of repo/ must not see it.

Content is stitched from a pool of random text blocks built once, so 1 GiB takes
well under a minute or two. All randomness comes from random.Random(seed): the same
seed and size give the same bytes. The normal text mentions the keywords of the
rules innocently (task-runner, Slovakia, hf_hub_download, npm_config_cache, docs
about token prefixes, env-var look-ups, placeholders) so a keyword prefilter sees a
realistic load of candidates that are not secrets.
"""

import argparse
import base64
import json
import math
import os
import random
import shutil
import string
import sys
import time

MiB = 1024 * 1024
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
LETTERS = string.ascii_letters
B32 = string.ascii_uppercase + "234567"

# A random secret containing one of these (case-insensitively) could be taken for a
# placeholder by a scanner; such draws are redrawn.
PLACEHOLDER_WORDS = ("your", "example", "placeholder", "here", "dummy", "redacted",
                     "changeme", "insert", "replace", "xxx", "test", "sample", "fake")

WORDS = """
account address agent alert archive asset audit backup balance batch billing blob
bucket budget buffer bundle cache calendar campaign cart catalog channel chart
checkout chunk claim client cluster cohort column comment config consumer contact
container context contract counter coupon cursor customer dashboard dataset date
deadline delivery deploy device digest discount document domain draft driver
entry envelope event export feature feed field filter flag folder form frame
gateway graph group handler header health history host image import index
inventory invoice issue item job journal kernel label layer layout ledger limit
listing loader locale lock log manifest mapping market member message metric
migration mirror model module monitor mount network node notice object offer
order origin owner package page panel parser partner patch payload payment peer
period pipeline plan platform plugin policy pool port post preview price
printer probe process product profile project promo provider proxy queue quota
range rate reader receipt record region registry release report request resource
response result review role route rule runner sample schedule schema scope
search segment sender sensor server service session shard shipment signal
snapshot socket source span stage state status storage store stream subject
summary supplier survey switch table tag target task template tenant ticket
timer topic trace tracker transfer trigger upload usage user vault vendor
version view visit volume voucher wallet warehouse webhook widget worker
workflow zone
""".split()

VERBS = """
add apply build check clean close collect compute convert copy count create
decode delete detect drain emit encode ensure fetch filter find flush format
handle hydrate index init insert load lookup merge migrate normalize notify
open parse patch poll prepare publish push read rebuild refresh register reload
remove render replay reset resolve retry rotate route run save scan schedule
send serialize split start stop store sync trim update upload validate watch write
""".split()

ADJ = """
active async atomic base cached canonical current default deferred dirty empty
external final global hidden inner internal invalid large last latest legacy
local main max min missing next null optional outer partial pending primary
private public raw ready remote root safe shared short single slow stale strict
temp total unique unknown upstream valid
""".split()

COUNTRIES = ["Slovakia", "Slovenia", "Austria", "Czechia", "Poland", "Hungary",
             "Germany", "France", "Spain", "Portugal", "Italy", "Norway", "Sweden",
             "Finland", "Estonia", "Latvia", "Lithuania", "Ireland", "Iceland",
             "Japan", "Kenya", "Chile", "Peru", "Canada", "Mexico", "Brazil"]

# Words that contain "sk-" and friends: innocent prefilter hits in prose.
SK_WORDS = ["task-runner", "risk-based", "disk-usage", "desk-booking", "ask-me-anything",
            "mask-image", "flask-cors", "task-queue", "risk-engine", "disk-backed",
            "whisk-api", "tusk-sync", "kiosk-mode", "dusk-theme", "husk-cli"]

# Keyword mentions that are not secrets: docs, env-var look-ups, library names.
INNOCENT = [
    "Kunavo keys start with sk-kunavo- and are 50 characters long.",
    "Project keys (sk-proj-) replace the legacy user keys; rotate them every 90 days.",
    "Anthropic keys look like sk-ant-api03-...; never paste one into an issue.",
    "PNV tokens are prefixed with sk-pnv- followed by 32 characters.",
    "Konnect live keys (sk_live_) only work against https://api.konnect.ai/v1 endpoints.",
    "Classic GitHub tokens start with ghp_, fine-grained ones with github_pat_.",
    "Slack bot tokens (xoxb-) need the chat:write scope.",
    "GitLab personal access tokens are prefixed with glpat- since 14.5.",
    "AWS access key ids begin with AKIA (long-term) or ASIA (temporary).",
    "Hugging Face tokens start with hf_ and are read from HF_TOKEN.",
    "npm automation tokens start with npm_ and belong in NPM_TOKEN.",
    "The task-runner retries each step twice before the risk-engine gives up.",
    "Use the disk-backed cache when the working set exceeds memory.",
    "The kiosk-mode build hides the desk-booking panel.",
    "Authorization: Bearer sk-kunavo-XXX",
    "Customers in Slovakia and Slovenia share the EU-central shard.",
]
CODE_INNOCENT = {
    "py": ['api_key = os.environ["KONNECT_API_KEY"]',
           'token = os.environ.get("GITHUB_TOKEN")',
           'path = hf_hub_download(repo_id="org/model", filename="config.json")',
           'hf_token = os.getenv("HF_TOKEN")',
           'aws_key = os.environ["AWS_ACCESS_KEY_ID"]',
           'base_url = "https://api.konnect.ai/v1"',
           'KUNAVO_API_KEY = os.environ["KUNAVO_API_KEY"]'],
    "js": ['const key = process.env.KONNECT_API_KEY;',
           'const cache = process.env.npm_config_cache;',
           'const version = process.env.npm_package_version;',
           'const slack = new WebClient(process.env.SLACK_BOT_TOKEN);',
           "const BASE = 'https://api.konnect.ai/v1';",
           'el.style.webkitMaskImage = "none";'],
    "go": ['token := os.Getenv("GITHUB_TOKEN")',
           'key := os.Getenv("KUNAVO_API_KEY")',
           'const konnectBase = "https://api.konnect.ai/v1"'],
    "rs": ['let token = std::env::var("GITLAB_TOKEN")?;',
           'let key = std::env::var("KONNECT_API_KEY").ok();'],
    "sh": ['echo "building $npm_package_name@$npm_package_version"',
           'npm config set //registry.npmjs.org/:_authToken "${NPM_TOKEN}"',
           'export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:?}"',
           'task-runner --config ci/tasks.yaml'],
    "yaml": ['NPM_TOKEN: ${{ secrets.NPM_TOKEN }}',
             'GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}',
             'KONNECT_API_KEY: ${{ secrets.KONNECT_API_KEY }}',
             'image: ghcr.io/acme/task-runner:1.4.2',
             'country: Slovakia'],
}

# Placeholders a scanner must never report. Each is (kind, text, line template).
PLACEHOLDERS = [
    ("kunavo", "sk-kunavo-XXX", "Authorization: Bearer {p}"),
    ("kunavo", "sk-kunavo-" + "x" * 40, "KUNAVO_API_KEY={p}"),
    ("pnv", "sk-pnv-" + "x" * 32, "export PNV_API_KEY={p}"),
    ("pnv", "sk-pnv-" + "*" * 32, "PNV_API_KEY={p}"),
    ("github", "ghp_" + "x" * 36, "GITHUB_TOKEN={p}"),
    ("aws", "AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY_ID={p}"),
    ("aws", "AKIA" + "X" * 16, "aws_access_key_id = {p}"),
    ("openai", "sk-proj-...", "OPENAI_API_KEY={p}"),
    ("anthropic", "sk-ant-api03-<your-key>", "ANTHROPIC_API_KEY={p}"),
    ("konnect", "sk_live_your_key_here", "KONNECT_API_KEY={p}  # https://api.konnect.ai/v1"),
    ("slack", "xoxb-your-bot-token", "SLACK_BOT_TOKEN={p}"),
    ("gitlab", "glpat-" + "x" * 20, "GITLAB_TOKEN={p}"),
    ("huggingface", "hf_" + "x" * 34, "HF_TOKEN={p}"),
    ("npm", "npm_${NPM_AUTH_TOKEN}", "//registry.npmjs.org/:_authToken={p}"),
    ("kunavo", "sk-kunavo-REDACTED", 'client = Kunavo(api_key="{p}")'),
]
PLACEHOLDER_STRINGS = sorted({p for _, p, _ in PLACEHOLDERS})

# kind -> (environment variable naming the provider, secret generator)
def _gen(rng, alphabet, n):
    return "".join(rng.choices(alphabet, k=n))


def _inner(rng, n):
    """n URL-safe chars whose first and last are alphanumeric."""
    if n <= 2:
        return _gen(rng, ALNUM, n)
    return _gen(rng, ALNUM, 1) + _gen(rng, URLSAFE, n - 2) + _gen(rng, ALNUM, 1)


KINDS = {
    "kunavo": ("KUNAVO_API_KEY", lambda r: "sk-kunavo-" + _gen(r, ALNUM, 40)),
    "pnv": ("PNV_API_KEY", lambda r: "sk-pnv-" + _gen(r, ALNUM, 32)),
    "konnect": ("KONNECT_API_KEY", lambda r: "sk_live_" + _gen(r, ALNUM, 32)),
    "github": ("GITHUB_TOKEN", lambda r: "ghp_" + _gen(r, ALNUM, 36)),
    "aws": ("AWS_ACCESS_KEY_ID", lambda r: "AKIA" + _gen(r, B32, 16)),
    "slack": ("SLACK_BOT_TOKEN", lambda r: "xoxb-%s-%s-%s" % (
        _gen(r, string.digits, r.choice((10, 11, 12))),
        _gen(r, string.digits, r.choice((12, 13))), _gen(r, ALNUM, 24))),
    "gitlab": ("GITLAB_TOKEN", lambda r: "glpat-" + _inner(r, 20)),
    "openai": ("OPENAI_API_KEY",
               lambda r: "sk-proj-" + _inner(r, 64) + "T3BlbkFJ" + _inner(r, 64)),
    "anthropic": ("ANTHROPIC_API_KEY", lambda r: "sk-ant-api03-" + _inner(r, 93) + "AA"),
    "huggingface": ("HF_TOKEN", lambda r: "hf_" + _gen(r, LETTERS, 34)),
    "npm": ("NPM_TOKEN", lambda r: "npm_" + _gen(r, ALNUM, 36)),
}

COMMENT = {"py": "#", "sh": "#", "yaml": "#", "toml": "#", "env": "#", "js": "//",
           "ts": "//", "go": "//", "rs": "//", "sql": "--", "txt": "", "md": "",
           "csv": "#", "log": "", "html": "", "css": "", "json": "", "min": ""}

# Planting formats: {N} provider env var, {v} generic name, {s} the secret.
NAMED = {
    "py": ['{N} = "{s}"\n', 'os.environ.setdefault("{N}", "{s}")\n', 'settings = {{"{N}": "{s}"}}\n'],
    "js": ['process.env.{N} = "{s}";\n', "const {N} = '{s}';\n", 'export const config = {{ {N}: "{s}" }};\n'],
    "go": ['\tos.Setenv("{N}", "{s}")\n', '\t{v} := "{s}" // {N}\n'],
    "rs": ['    std::env::set_var("{N}", "{s}");\n', 'const {N}: &str = "{s}";\n'],
    "yaml": ["  {N}: {s}\n", "      - {N}={s}\n", '  {N}: "{s}"\n'],
    "json": ['  "{N}": "{s}",\n'],
    "md": ["```sh\nexport {N}={s}\n```\n", "Set `{N}={s}` before running the tests.\n"],
    "env": ["{N}={s}\n", '{N}="{s}"\n', "export {N}={s}\n"],
    "toml": ['{N} = "{s}"\n'],
    "sh": ['export {N}="{s}"\n', "{N}={s} ./scripts/run.sh\n"],
    "log": ["2024-03-11T08:14:55.201Z DEBUG config loaded {N}={s}\n"],
    "min": [';var {N}="{s}";'],
    "html": ['<meta name="{N}" content="{s}">\n'],
    "txt": ["{N}: {s}\n"],
}
ANON = {
    "py": ['{v} = "{s}"\n', 'headers = {{"Authorization": "Bearer {s}"}}\n', "    client = Client({v}='{s}')\n"],
    "js": ['const {v} = "{s}";\n', "  headers: {{ Authorization: `Bearer {s}` }},\n",
           "fetch(url, {{ headers: {{ 'x-api-key': '{s}' }} }});\n"],
    "go": ['\t{v} := "{s}"\n', '\treq.Header.Set("Authorization", "Bearer {s}")\n'],
    "rs": ['    let {v} = "{s}";\n', '        .bearer_auth("{s}")\n'],
    "yaml": ["  {v}: {s}\n", '  {v}: "{s}"\n'],
    "json": ['  "{v}": "{s}",\n', '    "Authorization": "Bearer {s}",\n'],
    "md": ['curl -H "Authorization: Bearer {s}" https://internal.corp/api/v1/items\n'],
    "env": ["{V}={s}\n"],
    "toml": ['{v} = "{s}"\n'],
    "sh": ['curl -sS -H "Authorization: Bearer {s}" "$API_URL/v1/items"\n'],
    "log": ["2024-03-11T08:14:55.201Z WARN  retrying request headers={{'Authorization': 'Bearer {s}'}}\n"],
    "min": [',headers:{{Authorization:"Bearer {s}"}},', ',apiKey:"{s}",'],
    "html": ['<script>window.__CFG__={{token:"{s}"}}</script>\n'],
    "txt": ["token {s}\n"],
}
GENERIC_NAMES = ["token", "api_key", "auth_token", "access_key", "credential", "secret_key", "key"]
PLANT_CAT = {"ts": "js", "csv": "txt", "sql": "txt"}  # categories that borrow formats

EXT = {"py": [".py"], "js": [".js", ".mjs"], "ts": [".ts", ".tsx"], "go": [".go"],
       "rs": [".rs"], "yaml": [".yaml", ".yml"], "json": [".json"], "md": [".md"],
       "txt": [".txt"], "toml": [".toml"], "sh": [".sh"], "css": [".css"],
       "html": [".html"], "log": [".log"], "csv": [".csv"], "sql": [".sql"],
       "min": [".min.js"]}

FLAVORS = {
    "py": {"py": 70, "md": 5, "yaml": 5, "json": 5, "toml": 4, "txt": 3, "sh": 4, "log": 2, "sql": 2},
    "js": {"js": 42, "ts": 25, "json": 14, "css": 6, "html": 4, "md": 5, "min": 4},
    "go": {"go": 80, "md": 5, "yaml": 5, "json": 4, "sh": 4, "sql": 2},
    "rs": {"rs": 80, "toml": 8, "md": 7, "json": 5},
    "md": {"md": 80, "txt": 10, "yaml": 5, "json": 5},
    "yaml": {"yaml": 70, "json": 10, "sh": 10, "md": 5, "toml": 5},
    "config": {"json": 40, "yaml": 30, "toml": 20, "txt": 10},
    "mixed": {"py": 24, "go": 18, "js": 14, "rs": 10, "yaml": 8, "json": 8, "md": 7,
              "sh": 4, "toml": 3, "log": 2, "csv": 1, "sql": 1},
}
TOP_DIRS = [("services", "mixed"), ("packages", "js"), ("libs", "py"), ("tools", "mixed"),
            ("docs", "md"), ("deploy", "yaml"), ("web", "js"), ("vendor", "go"),
            ("node_modules", "js"), ("scripts", "mixed"), ("internal", "go"),
            ("crates", "rs"), ("cmd", "go"), ("examples", "mixed"), ("tests", "py"),
            (".github", "yaml"), (".config", "config"), ("ml", "py"), ("api", "mixed")]
GITIGNORE = "node_modules/\ndist/\n*.log\n.env\n.env.*\n!.env.example\n__pycache__/\ntarget/\n"


# --------------------------------------------------------------------------- text pool

class Text:
    def __init__(self, rng):
        self.r = rng

    def w(self):
        return self.r.choice(WORDS)

    def words(self, lo, hi):
        return [self.r.choice(WORDS) for _ in range(self.r.randint(lo, hi))]

    def snake(self, lo=1, hi=3):
        return "_".join(self.words(lo, hi))

    def camel(self, lo=1, hi=3):
        ws = self.words(lo, hi)
        return ws[0] + "".join(x.capitalize() for x in ws[1:])

    def pascal(self, lo=1, hi=3):
        return "".join(x.capitalize() for x in self.words(lo, hi))

    def sentence(self, lo=6, hi=16):
        r = self.r
        out = []
        for _ in range(r.randint(lo, hi)):
            x = r.random()
            if x < 0.55:
                out.append(r.choice(WORDS))
            elif x < 0.75:
                out.append(r.choice(VERBS))
            elif x < 0.93:
                out.append(r.choice(ADJ))
            elif x < 0.995:
                out.append(r.choice(("the", "a", "when", "and", "or", "before", "after", "if")))
            else:
                out.append(r.choice(SK_WORDS))
        s = " ".join(out)
        return s[0].upper() + s[1:] + "."

    def paragraph(self):
        return " ".join(self.sentence() for _ in range(self.r.randint(3, 9)))

    def string_lit(self):
        return self.sentence(2, 6).rstrip(".")

    def number(self):
        r = self.r
        return str(r.choice((0, 1, 2, 8, 16, 30, 60, 64, 100, 128, 256, 1000, 1024, 3600,
                             r.randint(0, 99999))))

    def uuid(self):
        h = "%032x" % self.r.getrandbits(128)
        return "%s-%s-4%s-a%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:32])

    def hexs(self, n):
        return "%0*x" % (n, self.r.getrandbits(4 * n))

    def b64(self, nbytes):
        # Standard alphabet (+/): no '-' or '_', so blobs cannot form key shapes.
        return base64.b64encode(self.r.randbytes(nbytes)).decode()

    def innocent(self, cat):
        r = self.r
        if cat in CODE_INNOCENT and r.random() < 0.5:
            return r.choice(CODE_INNOCENT[cat])
        if r.random() < 0.12:
            _, p, tmpl = r.choice(PLACEHOLDERS)
            return tmpl.format(p=p)
        return r.choice(INNOCENT)


def long_list(t, quote='"'):
    r = t.r
    n = r.randint(30, 300)
    if r.random() < 0.5:
        return ", ".join(t.number() for _ in range(n))
    return ", ".join(quote + t.snake(1, 2) + quote for _ in range(n))


def py_block(t):
    r = t.r
    L = []
    if r.random() < 0.3:
        L.append("class %s(%s):" % (t.pascal(), r.choice(("object", "Base", "Exception", "Protocol"))))
        L.append('    """%s"""' % t.sentence())
        ind = "    "
    else:
        ind = ""
    for _ in range(r.randint(1, 4)):
        if r.random() < 0.2:
            L.append(ind + "@%s" % r.choice(("property", "staticmethod", "cached_property", "retry(times=3)", "app.route(\"/%s\")" % t.w())))
        args = ", ".join(t.snake(1, 2) for _ in range(r.randint(0, 4)))
        if ind:
            args = "self" + (", " + args if args else "")
        L.append(ind + "def %s(%s) -> %s:" % (t.snake(), args, r.choice(("None", "int", "str", "dict", "list[str]", "bool", "Optional[%s]" % t.pascal()))))
        if r.random() < 0.6:
            L.append(ind + '    """%s"""' % t.sentence())
        for _ in range(r.randint(3, 14)):
            x = r.random()
            b = ind + "    "
            if x < 0.3:
                L.append(b + "%s = %s(%s)" % (t.snake(), t.snake(), ", ".join(t.snake(1, 1) for _ in range(r.randint(0, 3)))))
            elif x < 0.42:
                L.append(b + "if %s is None:" % t.snake())
                L.append(b + '    raise ValueError("%s")' % t.string_lit())
            elif x < 0.52:
                L.append(b + "for %s in %s:" % (t.w(), t.snake()))
                L.append(b + "    %s.append(%s)" % (t.snake(), t.w()))
            elif x < 0.62:
                L.append(b + 'logger.%s("%s %%s", %s)' % (r.choice(("info", "debug", "warning")), t.string_lit(), t.snake()))
            elif x < 0.72:
                L.append(b + "# " + t.sentence())
            elif x < 0.80:
                L.append(b + '%s = {"%s": %s, "%s": "%s"}' % (t.snake(), t.w(), t.number(), t.w(), t.string_lit()))
            elif x < 0.86:
                L.append(b + 'url = f"https://%s.internal/api/v%d/{%s}"' % (t.w(), r.randint(1, 3), t.snake()))
            elif x < 0.88:
                L.append(b + "%s = [%s]" % (t.snake().upper(), long_list(t)))
            elif x < 0.886:
                L.append(b + "# " + t.innocent("py"))
            elif x < 0.888:
                L.append(b + t.innocent("py"))
            else:
                L.append(b + "%s += %s" % (t.snake(), t.number()))
        L.append(ind + "    return %s" % t.snake())
        L.append("")
    L.append("")
    return "\n".join(L) + "\n"


def js_block(t, ts=False):
    r = t.r
    L = []
    for _ in range(r.randint(1, 4)):
        x = r.random()
        typ = (": " + r.choice(("string", "number", "boolean", t.pascal(1, 2), "Promise<void>"))) if ts else ""
        if x < 0.15:
            L.append("import { %s } from '%s';" % (", ".join(t.camel() for _ in range(r.randint(1, 4))), r.choice(("./", "../", "@acme/")) + t.w()))
        if x < 0.5:
            L.append("export %sfunction %s(%s)%s {" % (r.choice(("", "async ")), t.camel(), ", ".join(t.camel(1, 2) + typ for _ in range(r.randint(0, 3))), typ))
        else:
            L.append("const %s = %s(%s) => {" % (t.camel(), r.choice(("", "async ")), ", ".join(t.camel(1, 2) for _ in range(r.randint(0, 3)))))
        for _ in range(r.randint(3, 12)):
            y = r.random()
            if y < 0.3:
                L.append("  const %s = %s.%s(%s);" % (t.camel(), t.camel(1, 2), t.camel(1, 2), t.camel(1, 1)))
            elif y < 0.42:
                L.append("  if (!%s) {" % t.camel())
                L.append("    throw new Error('%s');" % t.string_lit())
                L.append("  }")
            elif y < 0.52:
                L.append("  // " + t.sentence())
            elif y < 0.62:
                L.append("  console.%s(`%s ${%s}`);" % (r.choice(("log", "warn", "debug")), t.string_lit(), t.camel()))
            elif y < 0.72:
                L.append("  %s.forEach((%s) => %s.push(%s));" % (t.camel(), t.w(), t.camel(), t.w()))
            elif y < 0.8:
                L.append("  const %s = { %s: %s, %s: '%s' };" % (t.camel(), t.camel(1, 1), t.number(), t.camel(1, 1), t.string_lit()))
            elif y < 0.82:
                L.append("  const %s = [%s];" % (t.camel(), long_list(t, "'")))
            elif y < 0.83:
                L.append("  const icon = 'data:image/png;base64,%s';" % t.b64(r.randint(200, 1500)))
            elif y < 0.836:
                L.append("  // " + t.innocent("js"))
            elif y < 0.838:
                L.append("  " + t.innocent("js"))
            else:
                L.append("  await %s(%s);" % (t.camel(), t.camel(1, 1)))
        L.append("  return %s;" % t.camel())
        L.append("}" + (";" if x >= 0.5 else ""))
        L.append("")
    return "\n".join(L) + "\n"


def go_block(t):
    r = t.r
    L = []
    for _ in range(r.randint(1, 3)):
        if r.random() < 0.25:
            L.append("type %s struct {" % t.pascal())
            for _ in range(r.randint(2, 8)):
                f = t.pascal(1, 2)
                L.append('\t%s %s `json:"%s"`' % (f, r.choice(("string", "int64", "bool", "[]byte", "time.Time", "*" + t.pascal(1, 1))), f.lower()))
            L.append("}")
            L.append("")
        L.append("func (s *%s) %s(ctx context.Context, %s %s) (*%s, error) {" % (t.pascal(1, 2), t.pascal(), t.camel(1, 1), r.choice(("string", "int", "*Request")), t.pascal(1, 2)))
        for _ in range(r.randint(3, 12)):
            y = r.random()
            if y < 0.35:
                L.append("\t%s, err := s.%s.%s(ctx, %s)" % (t.camel(1, 2), t.camel(1, 1), t.pascal(), t.camel(1, 1)))
                L.append("\tif err != nil {")
                L.append('\t\treturn nil, fmt.Errorf("%s: %%w", err)' % t.string_lit().lower())
                L.append("\t}")
            elif y < 0.5:
                L.append("\t// " + t.sentence())
            elif y < 0.6:
                L.append('\tlog.Printf("%s %%v", %s)' % (t.string_lit(), t.camel(1, 1)))
            elif y < 0.7:
                L.append("\tfor _, %s := range %s {" % (t.w(), t.camel()))
                L.append("\t\t%s = append(%s, %s)" % (t.camel(1, 1), t.camel(1, 1), t.w()))
                L.append("\t}")
            elif y < 0.706:
                L.append("\t// " + t.innocent("go"))
            elif y < 0.708:
                L.append("\t" + t.innocent("go"))
            else:
                L.append("\t%s := %s" % (t.camel(), t.number()))
        L.append("\treturn &%s{}, nil" % t.pascal(1, 2))
        L.append("}")
        L.append("")
    return "\n".join(L) + "\n"


def rs_block(t):
    r = t.r
    L = []
    for _ in range(r.randint(1, 3)):
        if r.random() < 0.3:
            L.append("#[derive(Debug, Clone%s)]" % r.choice(("", ", PartialEq", ", Serialize, Deserialize")))
            L.append("pub struct %s {" % t.pascal())
            for _ in range(r.randint(2, 7)):
                L.append("    pub %s: %s," % (t.snake(1, 2), r.choice(("String", "u64", "usize", "bool", "Vec<u8>", "Option<String>", "PathBuf"))))
            L.append("}")
            L.append("")
        L.append("/// " + t.sentence())
        L.append("pub fn %s(%s) -> Result<%s, Error> {" % (t.snake(), ", ".join("%s: %s" % (t.snake(1, 1), r.choice(("&str", "usize", "&[u8]", "&Path"))) for _ in range(r.randint(0, 3))), r.choice(("()", "usize", "String", "Vec<u8>"))))
        for _ in range(r.randint(3, 12)):
            y = r.random()
            if y < 0.35:
                L.append("    let %s = %s(%s)?;" % (t.snake(), t.snake(), t.snake(1, 1)))
            elif y < 0.5:
                L.append("    // " + t.sentence())
            elif y < 0.62:
                L.append("    if %s.is_empty() {" % t.snake(1, 1))
                L.append('        return Err(Error::new("%s"));' % t.string_lit())
                L.append("    }")
            elif y < 0.72:
                L.append("    for %s in %s.iter() {" % (t.w(), t.snake()))
                L.append("        %s.push(%s.clone());" % (t.snake(1, 1), t.w()))
                L.append("    }")
            elif y < 0.726:
                L.append("    // " + t.innocent("rs"))
            elif y < 0.728:
                L.append("    " + t.innocent("rs"))
            else:
                L.append('    tracing::debug!("%s {}", %s);' % (t.string_lit(), t.snake(1, 1)))
        L.append("    Ok(Default::default())")
        L.append("}")
        L.append("")
    return "\n".join(L) + "\n"


def yaml_block(t):
    r = t.r
    L = []
    x = r.random()
    if x < 0.35:
        L += ["apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: %s" % t.snake(1, 2).replace("_", "-"),
              "  labels:", "    app: %s" % t.w(), "spec:", "  replicas: %d" % r.randint(1, 6), "  template:",
              "    spec:", "      containers:", "        - name: %s" % t.w(),
              "          image: registry.internal/%s:%d.%d.%d" % (t.w(), r.randint(0, 9), r.randint(0, 30), r.randint(0, 99)),
              "          env:"]
        for _ in range(r.randint(2, 8)):
            L.append("            - name: %s" % t.snake(1, 2).upper())
            L.append('              value: "%s"' % r.choice((t.number(), t.w(), "true", "false")))
    elif x < 0.6:
        L += ["name: %s" % t.string_lit(), "on:", "  push:", "    branches: [main]", "jobs:", "  %s:" % t.w(),
              "    runs-on: ubuntu-latest"]
        if r.random() < 0.3:
            L.append("    env:")
            L.append("      " + r.choice(CODE_INNOCENT["yaml"][:3]))
        L.append("    steps:")
        for _ in range(r.randint(2, 7)):
            L.append("      - name: %s" % t.string_lit())
            L.append("        run: %s" % r.choice(("npm ci", "cargo test --all", "go test ./...", "pytest -q", "make %s" % t.w())))
    else:
        L.append("%s:" % t.snake(1, 2))
        for _ in range(r.randint(4, 20)):
            y = r.random()
            if y < 0.7:
                L.append("  %s: %s" % (t.snake(1, 2), r.choice((t.number(), t.w(), "true", "false", '"%s"' % t.string_lit()))))
            elif y < 0.85:
                L.append("  # " + t.sentence())
            elif y < 0.865:
                L.append("  # " + t.innocent("yaml"))
            else:
                L.append("  %s:" % t.snake(1, 1))
                for _ in range(r.randint(1, 4)):
                    L.append("    - %s" % t.w())
    L.append("")
    return "\n".join(L) + "\n"


def json_value(t, depth):
    r = t.r
    x = r.random()
    if depth > 2 or x < 0.5:
        y = r.random()
        if y < 0.3:
            return r.randint(0, 100000)
        if y < 0.5:
            return t.string_lit()
        if y < 0.6:
            return t.uuid()
        if y < 0.65:
            return r.choice(COUNTRIES)
        if y < 0.7:
            return "sha512-" + t.b64(64)
        if y < 0.655:
            return t.innocent("json")
        if y < 0.85:
            return r.random() < 0.5
        return t.w()
    if x < 0.75:
        return [json_value(t, depth + 1) for _ in range(r.randint(1, 5))]
    return {t.camel(1, 2): json_value(t, depth + 1) for _ in range(r.randint(1, 6))}


def json_block(t):
    r = t.r
    obj = {t.camel(1, 2): json_value(t, 0) for _ in range(r.randint(3, 12))}
    s = json.dumps(obj, indent=r.choice((2, 2, 4)))
    return s + ",\n"


def md_block(t):
    r = t.r
    L = ["#" * r.randint(1, 3) + " " + t.string_lit().title(), ""]
    for _ in range(r.randint(2, 6)):
        y = r.random()
        if y < 0.45:
            L.append(t.paragraph())  # one long line per paragraph
        elif y < 0.6:
            for _ in range(r.randint(2, 6)):
                L.append("- " + t.sentence(3, 10))
        elif y < 0.72:
            L.append("```%s" % r.choice(("sh", "python", "yaml", "json", "")))
            for _ in range(r.randint(2, 8)):
                L.append(r.choice(("npm run %s" % t.w(), "make %s" % t.w(), "export %s=%s" % (t.snake(1, 2).upper(), t.w()),
                                   "%s --%s %s" % (t.w(), t.w(), t.number()))))
            L.append("```")
        elif y < 0.95:
            L.append("| %s | %s | %s |" % (t.w(), t.w(), t.w()))
            L.append("|---|---|---|")
            for _ in range(r.randint(2, 8)):
                L.append("| %s | %s | %s |" % (t.w(), t.number(), t.sentence(2, 5)))
        else:
            L.append(t.innocent("md"))
        L.append("")
    return "\n".join(L) + "\n"


def txt_block(t):
    return "\n".join(t.sentence(5, 30) if t.r.random() > 0.01 else t.innocent("txt")
                     for _ in range(t.r.randint(5, 30))) + "\n\n"


def toml_block(t):
    r = t.r
    L = ["[%s]" % t.snake(1, 2)]
    for _ in range(r.randint(3, 12)):
        y = r.random()
        if y < 0.6:
            L.append('%s = %s' % (t.snake(1, 2), r.choice(('"%s"' % t.w(), t.number(), "true", "false", '"%d.%d"' % (r.randint(0, 3), r.randint(0, 40))))))
        elif y < 0.85:
            L.append('%s = { version = "%d.%d", features = ["%s"] }' % (t.w(), r.randint(0, 2), r.randint(0, 40), t.w()))
        elif y < 0.995:
            L.append("# " + t.sentence())
        else:
            L.append("# " + t.innocent("toml"))
    L.append("")
    return "\n".join(L) + "\n"


def sh_block(t):
    r = t.r
    L = []
    for _ in range(r.randint(4, 16)):
        y = r.random()
        if y < 0.2:
            L.append('export %s="%s"' % (t.snake(1, 2).upper(), r.choice((t.w(), t.number(), "/opt/%s" % t.w()))))
        elif y < 0.35:
            L.append('if [[ -z "${%s:-}" ]]; then' % t.snake(1, 2).upper())
            L.append('  echo "%s" >&2' % t.string_lit())
            L.append("  exit 1")
            L.append("fi")
        elif y < 0.5:
            L.append("# " + t.sentence())
        elif y < 0.53:
            L.append(t.innocent("sh"))
        else:
            L.append("%s %s --%s=%s" % (r.choice(("docker", "kubectl", "npm", "cargo", "go", "python3", "make")), t.w(), t.w(), t.w()))
    L.append("")
    return "\n".join(L) + "\n"


def log_block(t):
    r = t.r
    L = []
    for _ in range(r.randint(10, 60)):
        ts = "2024-%02d-%02dT%02d:%02d:%02d.%03dZ" % (r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.randint(0, 999))
        lvl = r.choice(("INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"))
        if r.random() < 0.003:
            msg = t.innocent("log")
        elif r.random() < 0.5:
            msg = "request_id=%s method=%s path=/api/v%d/%s/%d status=%d duration_ms=%d" % (
                t.uuid(), r.choice(("GET", "POST", "PUT", "DELETE")), r.randint(1, 3), t.w(), r.randint(1, 99999),
                r.choice((200, 200, 201, 204, 400, 404, 500)), r.randint(1, 3000))
        else:
            msg = t.sentence(4, 14)
        L.append("%s %s [%s-%d] %s" % (ts, lvl, r.choice(("worker", "http", "scheduler", "db")), r.randint(0, 15), msg))
    return "\n".join(L) + "\n"


def css_block(t):
    r = t.r
    L = []
    for _ in range(r.randint(2, 8)):
        L.append(".%s-%s, .%s > .%s {" % (t.w(), t.w(), t.w(), t.w()))
        for _ in range(r.randint(2, 8)):
            y = r.random()
            if y < 0.1:
                L.append("  -webkit-mask-image: url(data:image/svg+xml;base64,%s);" % t.b64(r.randint(60, 400)))
                L.append("  mask-image: none;")
            else:
                L.append("  %s: %s;" % (r.choice(("margin", "padding", "color", "display", "font-size", "border", "gap", "z-index")),
                                        r.choice(("0", "4px 8px", "#%s" % t.hexs(6), "flex", "1.25rem", "1px solid #ddd", "auto"))))
        L.append("}")
    L.append("")
    return "\n".join(L) + "\n"


def html_block(t):
    r = t.r
    L = ['<section class="%s-%s">' % (t.w(), t.w())]
    for _ in range(r.randint(3, 12)):
        y = r.random()
        if y < 0.5:
            L.append('  <p class="%s">%s</p>' % (t.w(), t.sentence()))
        elif y < 0.7:
            L.append('  <a href="/%s/%s">%s</a>' % (t.w(), t.w(), t.string_lit()))
        elif y < 0.97:
            L.append('  <div id="%s" data-%s="%s"></div>' % (t.camel(), t.w(), t.number()))
        else:
            L.append("  <!-- %s -->" % t.innocent("html"))
    L.append("</section>")
    L.append("")
    return "\n".join(L) + "\n"


def csv_block(t):
    r = t.r
    return "\n".join("%d,%s,%s,%s,%d,%s" % (r.randint(1, 10 ** 7), t.uuid(), t.w(), r.choice(COUNTRIES), r.randint(0, 10 ** 5), t.string_lit())
                     for _ in range(r.randint(20, 80))) + "\n"


def sql_block(t):
    r = t.r
    tbl = t.snake(1, 2)
    L = ["CREATE TABLE IF NOT EXISTS %s (" % tbl, "  id BIGSERIAL PRIMARY KEY,"]
    for _ in range(r.randint(2, 7)):
        L.append("  %s %s," % (t.snake(1, 2), r.choice(("TEXT", "INTEGER", "BOOLEAN", "TIMESTAMPTZ", "JSONB"))))
    L.append("  created_at TIMESTAMPTZ NOT NULL DEFAULT now()")
    L.append(");")
    rows = ", ".join("(%d, '%s', '%s')" % (r.randint(1, 10 ** 6), t.w(), r.choice(COUNTRIES)) for _ in range(r.randint(5, 120)))
    L.append("INSERT INTO %s VALUES %s;" % (tbl, rows))
    L.append("-- " + t.sentence())
    L.append("")
    return "\n".join(L) + "\n"


def min_block(t):
    """Minified JS: no newlines at all."""
    r = t.r
    parts = []
    v = lambda: r.choice(string.ascii_letters) + r.choice(("", "", str(r.randint(0, 9)), r.choice(string.ascii_lowercase)))
    for _ in range(r.randint(20, 90)):
        y = r.random()
        if y < 0.3:
            parts.append("function %s(%s,%s){if(!%s)throw new Error(\"%s\");return %s.map(function(%s){return %s*%d})}" % (v(), v(), v(), v(), t.string_lit(), v(), v(), v(), r.randint(2, 9)))
        elif y < 0.5:
            parts.append("var %s=%s.%s||{},%s=\"%s\",%s=%d" % (v(), v(), t.camel(1, 1), v(), t.string_lit(), v(), r.randint(0, 9999)))
        elif y < 0.65:
            parts.append("%s.prototype.%s=function(%s){return this.%s.get(%s)}" % (v(), t.camel(), v(), t.camel(1, 1), v()))
        elif y < 0.75:
            parts.append("%s=[%s]" % (v(), ",".join(str(r.randint(0, 65535)) for _ in range(r.randint(10, 80)))))
        elif y < 0.78:
            parts.append("%s=\"data:image/png;base64,%s\"" % (v(), t.b64(r.randint(100, 2000))))
        elif y < 0.787:
            parts.append("/*%s*/" % t.innocent("min"))
        else:
            parts.append("!function(%s,%s){%s.exports=%s(%s)}(this,function(){\"use strict\";return{%s:%d}})" % (v(), v(), v(), v(), v(), t.camel(1, 1), r.randint(0, 99)))
    return ";".join(parts) + ";"


BLOCKS = {"py": py_block, "js": js_block, "ts": lambda t: js_block(t, True), "go": go_block,
          "rs": rs_block, "yaml": yaml_block, "json": json_block, "md": md_block,
          "txt": txt_block, "toml": toml_block, "sh": sh_block, "log": log_block,
          "css": css_block, "html": html_block, "csv": csv_block, "sql": sql_block,
          "min": min_block}

HEADERS = {
    "py": lambda t: '"""%s"""\n\nimport os\nimport logging\nfrom typing import Optional\n\nlogger = logging.getLogger(__name__)\n\n' % t.sentence(),
    "go": lambda t: 'package %s\n\nimport (\n\t"context"\n\t"fmt"\n\t"log"\n\t"os"\n)\n\n' % t.w(),
    "rs": lambda t: "//! %s\n\nuse std::path::Path;\n\n" % t.sentence(),
    "sh": lambda t: "#!/usr/bin/env bash\nset -euo pipefail\n\n",
    "js": lambda t: "'use strict';\n\n",
    "ts": lambda t: "import type { %s } from './types';\n\n" % t.pascal(),
    "min": lambda t: "/*! %s v%d.%d.%d | MIT License */\n" % (t.w(), t.r.randint(0, 9), t.r.randint(0, 30), t.r.randint(0, 20)),
    "html": lambda t: "<!doctype html>\n<html lang=\"en\">\n<body>\n",
    "csv": lambda t: "id,uuid,name,country,amount,note\n",
}


def build_pool(rng, blocks_per_cat):
    t = Text(rng)
    pool = {}
    for cat in sorted(BLOCKS):
        n = blocks_per_cat * (3 if cat == "min" else 1)
        pool[cat] = [BLOCKS[cat](t).encode() for _ in range(n)]
    return pool, t


# --------------------------------------------------------------------------- layout

def loguniform(rng, lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def weighted(rng, table):
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


class Layout:
    def __init__(self, rng, t, n_dirs):
        self.r, self.t = rng, t
        self.dirs = []  # (path, flavor, depth)
        for name, flavor in TOP_DIRS:
            self.dirs.append((name, flavor, 1))
        while len(self.dirs) < n_dirs:
            parent, flavor, depth = self.dirs[rng.randrange(len(self.dirs))]
            if depth >= 6:
                continue
            if flavor == "js":
                name = "-".join(t.words(1, 2))
            else:
                name = rng.choice((t.w(), t.snake(1, 2), rng.choice(("src", "lib", "internal", "pkg", "util", "core", "api", "handlers", "models", "tests", "docs", "config", "fixtures", "migrations"))))
            sub_flavor = flavor if rng.random() < 0.85 else rng.choice(list(FLAVORS))
            self.dirs.append(("%s/%s" % (parent, name), sub_flavor, depth + 1))
        self.used = set()

    def new_file(self, cat=None, dirpath=None, stem=None, ext=None):
        r, t = self.r, self.t
        if dirpath is None:
            dirpath, flavor, _ = self.dirs[r.randrange(len(self.dirs))]
            if cat is None:
                cat = weighted(r, FLAVORS[flavor])
        if ext is None:
            ext = r.choice(EXT[cat])
        if stem is None:
            stem = "-".join(t.words(1, 3)) if cat in ("js", "ts", "min", "css", "html", "md") else t.snake(1, 3)
        path = "%s/%s%s" % (dirpath, stem, ext)
        i = 2
        while path in self.used:
            path = "%s/%s_%d%s" % (dirpath, stem, i, ext)
            i += 1
        self.used.add(path)
        return path, cat


# --------------------------------------------------------------------------- main

def secret_for(rng, kind, seen):
    gen = KINDS[kind][1]
    while True:
        s = gen(rng)
        if s in seen or any(w in s.lower() for w in PLACEHOLDER_WORDS):
            continue
        seen.add(s)
        return s


def render_plant(rng, t, cat, kind, secret, named):
    """Return the text to insert (for cat 'min' an inline fragment, else whole lines)."""
    pc = PLANT_CAT.get(cat, cat)
    env = KINDS[kind][0]
    if kind == "konnect":
        named = True
    fmt = rng.choice((NAMED if named else ANON)[pc])
    v = rng.choice(GENERIC_NAMES)
    if pc in ("js", "go"):
        v = v.split("_")[0] + "".join(x.capitalize() for x in v.split("_")[1:])
    snippet = fmt.format(N=env, v=v, V=v.upper(), s=secret)
    if kind == "konnect":
        url = "https://api.konnect.ai/v1"
        if pc == "min":
            ctx = "/*%s*/" % url
        elif pc == "json":
            ctx = '  "konnect_base_url": "%s",\n' % url
        elif pc == "log":
            ctx = "2024-03-11T08:14:55.200Z INFO  konnect client base_url=%s\n" % url
        elif pc == "md":
            ctx = "Konnect base URL: %s\n" % url
        elif pc == "html":
            ctx = "<!-- %s -->\n" % url
        elif pc == "env":
            ctx = "KONNECT_BASE_URL=%s\n" % url
        else:
            ctx = "%s Konnect API: %s\n" % (COMMENT[pc] or "#", url)
            ctx = ctx.lstrip() if pc != "go" else "\t" + ctx.lstrip()
        snippet = ctx + snippet if rng.random() < 0.6 else snippet + ctx
    return snippet


def is_hidden(path):
    return any(p.startswith(".") for p in path.split("/"))


def is_ignored(path):
    parts = path.split("/")
    name = parts[-1]
    if "node_modules" in parts[:-1] or "dist" in parts[:-1] or "target" in parts[:-1]:
        return True
    if name.endswith(".log"):
        return True
    return (name == ".env" or name.startswith(".env.")) and name != ".env.example"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--size-mb", type=float, default=1024, help="approximate size of repo/ in MiB (default 1024)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keys", type=int, default=None, help="planted keys (default: ~0.3 per MiB, 33..400)")
    ap.add_argument("--force", action="store_true", help="replace an existing OUTDIR/repo")
    a = ap.parse_args(argv)

    t0 = time.time()
    rng = random.Random(a.seed)
    budget = int(a.size_mb * MiB)
    repo = os.path.join(a.outdir, "repo")
    if os.path.exists(repo):
        if not a.force:
            sys.exit("gen_tree: %s exists (use --force to replace it)" % repo)
        shutil.rmtree(repo)
    os.makedirs(repo)

    pool, t = build_pool(rng, 160)
    t_pool = time.time() - t0

    n_keys = a.keys if a.keys is not None else max(33, min(400, round(a.size_mb * 0.3)))
    n_ph = max(len(PLACEHOLDERS), n_keys // 3)

    # ---- plan files: (path, cat, target_size, binary_kind)
    files = []
    used = 0
    n_big = max(1, min(8, round(a.size_mb / 170)))
    big_specs = [("web/dist/bundle.min.js", "min"), ("tests/fixtures/recorded_responses.json", "json"),
                 ("services/%s/logs/app.log" % t.w(), "log"), ("data/export_%s.csv" % t.w(), "csv"),
                 ("deploy/db/dump.sql", "sql"), ("vendor/%s/dist/%s.min.js" % (t.w(), t.w()), "min"),
                 ("docs/reference/full-api.md", "md"), ("node_modules/.cache/%s/index.js" % t.w(), "js")]
    for path, cat in big_specs[:n_big]:
        size = int(min(rng.uniform(2, 8) * MiB, max(budget * 0.1, 64 * 1024)))
        files.append((path, cat, size, None))
        used += size
    n_bin = max(2, int(a.size_mb // 25))
    bin_kinds = [("png", "assets/img", ".png"), ("elf", "bin", ".so"), ("pyc", "libs/__pycache__", ".cpython-311.pyc"),
                 ("woff2", "web/static/fonts", ".woff2"), ("sqlite", "data", ".sqlite3")]
    for i in range(n_bin):
        kind, d, ext = bin_kinds[i % len(bin_kinds)]
        size = min(loguniform(rng, 8 * 1024, 1536 * 1024), max(budget // 50, 4096))
        files.append(("%s/%s_%d%s" % (d, t.snake(1, 2), i, ext), None, size, kind))
        used += size
    n_dirs = max(40, int((budget - used) / (37 * 1024) / 12))
    layout = Layout(rng, t, n_dirs)
    for p, *_ in files:
        layout.used.add(p)
    # hidden env files for keys, .env.example files for placeholders, root files
    n_env = max(3, n_keys // 8)
    env_files = []
    for i in range(n_env):
        d = layout.dirs[rng.randrange(len(layout.dirs))][0]
        stem = rng.choice((".env", ".env.local", ".env.production", ".env.staging"))
        path, _ = layout.new_file("env", dirpath=d, stem=stem, ext="")
        env_files.append(len(files))
        files.append((path, "env", rng.randint(200, 1500), None))
    ex_files = []
    for i in range(max(2, n_ph // 6)):
        d = layout.dirs[rng.randrange(len(layout.dirs))][0]
        path, _ = layout.new_file("env", dirpath=d, stem=".env", ext=".example")
        ex_files.append(len(files))
        files.append((path, "env", rng.randint(200, 1200), None))
    files.append(("README.md", "md", 6000, None))
    layout.used.add("README.md")
    used += sum(f[2] for f in files[-(n_env + len(ex_files) + 1):])
    while used < budget:
        path, cat = layout.new_file()
        size = loguniform(rng, 1024, 200 * 1024) if cat != "min" else loguniform(rng, 20 * 1024, 200 * 1024)
        files.append((path, cat, size, None))
        used += size

    # ---- plan plants
    text_idx = [i for i, f in enumerate(files) if f[3] is None and f[1] not in ("css", "env")]
    min_idx = [i for i in text_idx if files[i][1] == "min"]
    big_idx = list(range(n_big))
    md_idx = [i for i in text_idx if files[i][1] == "md"] or text_idx
    code_idx = [i for i in text_idx if files[i][1] in ("py", "js", "ts", "go", "rs", "sh", "yaml", "toml")] or text_idx
    kinds = sorted(KINDS)
    plan = {}  # file index -> list of ("key", kind, secret, named) | ("ph", kind, text, line)
    seen = set()
    for k in range(n_keys):
        kind = kinds[k % len(kinds)]
        x = rng.random()
        if x < 0.15:
            fi = rng.choice(env_files)
        elif x < 0.23 and min_idx:
            fi = rng.choice(min_idx)
        elif x < 0.28:
            fi = rng.choice(big_idx)
        else:
            fi = rng.choice(text_idx)
        named = rng.random() < 0.75
        plan.setdefault(fi, []).append(("key", kind, secret_for(rng, kind, seen), named))
    for k in range(n_ph):
        kind, text, tmpl = PLACEHOLDERS[k % len(PLACEHOLDERS)]
        x = rng.random()
        fi = rng.choice(md_idx if x < 0.6 else ex_files if x < 0.8 else code_idx)
        plan.setdefault(fi, []).append(("ph", kind, text, tmpl.format(p=text)))

    # ---- write
    env_pool = [("%s=%s\n" % (t.snake(1, 2).upper(), rng.choice((t.w(), t.number(), "true", "false", "https://%s.internal:%d" % (t.w(), rng.randint(1000, 9999)))))).encode()
                for _ in range(300)]
    planted, placeholders = [], []
    made_dirs = set()
    total = 0
    n_lines_cut = 0
    for fi, (path, cat, size, bkind) in enumerate(files):
        full = os.path.join(repo, path)
        d = os.path.dirname(full)
        if d not in made_dirs:
            os.makedirs(d, exist_ok=True)
            made_dirs.add(d)
        if bkind is not None:
            data = binary_blob(rng, t, bkind, size)
            with open(full, "wb") as f:
                f.write(data)
            total += len(data)
            continue
        chunks = []
        if cat == "env":
            src = env_pool
            chunks.append(("# %s\n" % t.sentence(3, 8)).encode())
        else:
            src = pool[cat]
            if cat in HEADERS:
                chunks.append(HEADERS[cat](t).encode())
        n = sum(len(c) for c in chunks)
        while n < size:
            b = src[rng.randrange(len(src))]
            need = size - n
            if len(b) > need:
                if cat == "min":
                    b = b[:max(need, 1)]
                else:
                    j = b.find(b"\n", need - 1)
                    if j >= 0:
                        b = b[:j + 1]
                        n_lines_cut += 1
            chunks.append(b)
            n += len(b)
            if cat == "min" and rng.random() < 0.01:
                chunks.append(b"\n")  # occasional line break inside very long minified files
        # insert plants at chunk boundaries (after the header)
        items = plan.get(fi, [])
        inserts = []
        for it in items:
            if it[0] == "key":
                _, kind, secret, named = it
                text = render_plant(rng, t, cat, kind, secret, named)
            else:
                _, kind, ph, line = it
                c = COMMENT.get(PLANT_CAT.get(cat, cat), "")
                if cat == "min":
                    text = "/* %s */" % line
                elif cat == "json":
                    text = '  "note": "%s",\n' % line.replace('"', '\\"')
                elif cat == "md":
                    text = rng.choice(("```sh\n%s\n```\n", "Example: `%s`\n", "%s\n")) % line
                else:
                    text = ("%s %s\n" % (c, line)).lstrip() if c else line + "\n"
            pos = rng.randint(1 if len(chunks) > 1 else 0, len(chunks))
            inserts.append((pos, it, text.encode()))
        offs = []
        if inserts:
            inserts.sort(key=lambda x: x[0])
            new, prev = [], 0
            cur = 0
            for pos, it, text in inserts:
                for c in chunks[prev:pos]:
                    new.append(c)
                    cur += len(c)
                prev = pos
                offs.append((cur, it, text))
                new.append(text)
                cur += len(text)
            new.extend(chunks[prev:])
            chunks = new
        if cat == "min":
            chunks.append(b"\n")
        data = b"".join(chunks)
        with open(full, "wb") as f:
            f.write(data)
        total += len(data)
        for base, it, text in offs:
            needle = (it[2] if it[0] == "key" else it[2]).encode()
            off = base + text.index(needle)
            line = data.count(b"\n", 0, off) + 1
            col = off - (data.rfind(b"\n", 0, off) + 1) + 1
            rec = {"path": path, "line": line, "column": col}
            if it[0] == "key":
                rec.update(secret=it[2], kind=it[1], named=it[3] or it[1] == "konnect")
                rec.update(file_category=cat, hidden=is_hidden(path), ignored_by_gitignore=is_ignored(path))
                planted.append(rec)
            else:
                rec.update(text=it[2], kind=it[1], file_category=cat)
                placeholders.append(rec)

    with open(os.path.join(repo, ".gitignore"), "w") as f:
        f.write(GITIGNORE)
    total += len(GITIGNORE)

    out = {
        "format": 1,
        "generator": "bench/gen_tree.py",
        "seed": a.seed,
        "size_mb": a.size_mb,
        "root": "repo",
        "total_bytes": total,
        "files": len(files) + 1,
        "binary_files": n_bin,
        "dirs": len(made_dirs),
        "kinds": kinds,
        "planted": sorted(planted, key=lambda p: (p["path"], p["line"], p["column"])),
        "placeholders": sorted(placeholders, key=lambda p: (p["path"], p["line"], p["column"])),
        "placeholder_strings": PLACEHOLDER_STRINGS,
    }
    with open(os.path.join(a.outdir, "planted.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    dt = time.time() - t0
    print("gen_tree: %d files, %d dirs, %.1f MiB, %d keys, %d placeholders in %.1fs (pool %.1fs) -> %s"
          % (out["files"], out["dirs"], total / MiB, len(planted), len(placeholders), dt, t_pool, repo), file=sys.stderr)


def binary_blob(rng, t, kind, size):
    head = {"png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "elf": b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8,
            "pyc": b"\xa7\r\r\n\x00\x00\x00\x00", "woff2": b"wOF2\x00\x01\x00\x00",
            "sqlite": b"SQLite format 3\x00"}[kind]
    body = bytearray(rng.randbytes(max(size - len(head), 0)))
    if kind in ("elf", "sqlite", "pyc"):
        # string tables / rows: text islands (with innocent keyword hits) between binary
        for _ in range(max(1, size // 16384)):
            s = (t.innocent("txt") + "\x00" + t.snake() + "\x00").encode()
            at = rng.randrange(max(1, len(body) - len(s)))
            body[at:at + len(s)] = s
        if kind == "sqlite":
            for _ in range(max(1, size // 65536)):
                at = rng.randrange(max(1, len(body) - 4096))
                body[at:at + 4096] = b"\x00" * 4096
    return head + bytes(body[:max(size - len(head), 0)])


if __name__ == "__main__":
    main()
