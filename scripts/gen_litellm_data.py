#!/usr/bin/env python3
"""gen_litellm_data.py - deterministic LiteLLM test data as SQL on stdout.

Writes a psql script (COPY ... FROM STDIN blocks, one transaction) that fills
all 17 tables of LiteLLM's baseline schema with related, realistic-looking
rows: budgets, organizations, teams, users, virtual keys (stored as the
SHA-256 of the "sk-..." key, as the proxy does), memberships, end users,
model/credential/config rows, invitations, notifications, an audit log, error
logs, and the bulk: LiteLLM_SpendLogs with JSONB messages/response/metadata
holding chat content in many scripts (CJK, Arabic/Hebrew, emoji, accents),
code with backslashes, quotes, tabs and newlines, NULLs in nullable columns
and sizes from a few hundred bytes to tens of KB.

Usage:
  gen_litellm_data.py [--seed N] [--mb SIZE] [--schema FILE] | psql -v ON_ERROR_STOP=1 ...

  --seed N       the same seed and size give byte-identical output (default 1)
  --mb SIZE      approximate on-disk size of the LiteLLM tables after loading
                 (heap + TOAST + indexes), in MB (10^6 bytes); 0 = no rows.
                 Calibrated on PostgreSQL 15; the catalogs of an empty
                 database (~7.5 MB) come on top. Default 5.
  --schema FILE  first emit FILE (the baseline migration.sql) and Prisma's
                 _prisma_migrations table with the baseline's row (checksum =
                 SHA-256 of FILE), as `prisma migrate deploy` leaves them.

Output is streamed (constant memory, ~40 MB RSS at any size; about 30 MB/s
of SQL on one core of this machine kind); a one-line summary goes to stderr.
Python 3 standard library only; no database driver is needed.
"""

import argparse
import hashlib
import json
import random
import sys
import time
import uuid
from operator import itemgetter

# Size model, measured on PostgreSQL 15 after VACUUM ANALYZE (sum of
# pg_total_relation_size of the 18 tables): disk = FIXED + PER_BYTE * COPY
# text. FIXED is the minimum size of 18 tables with their indexes; PER_BYTE
# is below 1 because TOAST compresses the large JSONB values.
DISK_FIXED_BYTES = 1.15e6
DISK_PER_TEXT_BYTE = 0.78

BASE_MS = 1756684800000  # 2025-09-01 00:00:00 UTC: (nearly) all timestamps are before
DAY_MS = 86400000

NULL = "\\N"


def esc(s):
    """A text value for COPY's text format."""
    if "\\" in s:
        s = s.replace("\\", "\\\\")
    if "\n" in s:
        s = s.replace("\n", "\\n")
    if "\r" in s:
        s = s.replace("\r", "\\r")
    if "\t" in s:
        s = s.replace("\t", "\\t")
    return s


_json = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def jtxt(obj):
    """A JSONB value for COPY. JSON text has no raw control characters (the
    encoder escapes them), so only its backslashes need doubling."""
    return _json(obj).replace("\\", "\\\\")


def arr(items):
    """A TEXT[] value for COPY (NULL for None)."""
    if items is None:
        return NULL
    parts = []
    for x in items:
        parts.append('"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return esc("{" + ",".join(parts) + "}")


def ts(ms):
    """TIMESTAMP(3) text from epoch milliseconds (UTC)."""
    t = time.gmtime(ms // 1000)
    return "%04d-%02d-%02d %02d:%02d:%02d.%03d" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms % 1000)


def tstz(ms):
    return ts(ms) + "+00"


def opt(v, f=str):
    return NULL if v is None else f(v)


class Out:
    """Buffered UTF-8 writer that counts bytes."""

    def __init__(self, stream):
        self.stream = stream
        self.buf = []
        self.pending = 0
        self.total = 0

    def write(self, s):
        self.buf.append(s)
        self.pending += len(s)
        if self.pending >= 1 << 20:
            self.flush()

    def row(self, fields):
        self.write("\t".join(fields) + "\n")

    def flush(self):
        if self.buf:
            b = "".join(self.buf).encode("utf-8")
            self.stream.write(b)
            self.total += len(b)
            self.buf = []
            self.pending = 0

    def copy(self, table, cols):
        self.write('COPY "%s" (%s) FROM STDIN;\n' % (table, ", ".join('"%s"' % c for c in cols)))

    def end_copy(self):
        self.write("\\.\n")


# ---------------------------------------------------------------- content ---
EN = ("the a of to and in is it that for on with as this be are was by at from or "
      "an not your can we you will have which if more all has one their about there "
      "model request latency token budget deploy region failover database replica "
      "snapshot bucket encryption policy cluster service container health check "
      "please explain summarize translate write code function error retry timeout "
      "customer invoice report quarterly revenue forecast meeting schedule agenda "
      "python rust sql query index join transaction commit rollback backup restore "
      "weather travel recipe chicken garlic lemon oven minutes serve enjoy").split()
FR_DE_ES = ("déjà café naïve résumé façade über straße größe Mädchen schön "
            "año niño señor mañana corazón información también más él "
            "Ærø Øresund smørrebrød Łódź Kraków żółć").split()
CJK = ("你好 世界 数据库 备份 恢复 区域 故障转移 模型 请求 令牌 预算 "
       "こんにちは 世界 データベース バックアップ 復元 リージョン モデル "
       "안녕하세요 데이터베이스 백업 복원 지역 모델 요청").split()
RTL = ("مرحبا بالعالم قاعدة البيانات النسخ الاحتياطي استعادة المنطقة "
       "نموذج طلب ميزانية مفتاح مستخدم فريق سحابة خادم شبكة أمان تشفير سجل خطأ نجاح وقت يوم "
       "شكرا من إلى في على هذا التي كيف لماذا "
       "שלום עולם מסד נתונים גיבוי שחזור אזור "
       "מודל בקשה תקציב מפתח משתמש צוות ענן שרת רשת אבטחה הצפנה יומן שגיאה הצלחה זמן יום "
       "תודה של על את זה איך למה").split()
EMOJI = ["😀", "🚀", "🔥", "✅", "❌", "⚠️", "🎉", "🤖", "💾", "🌍", "👍🏽",
         "👩‍💻", "🇺🇸", "🇯🇵", "🧪", "📈", "∑", "π≈3.14159", "→", "½"]
CODE = [
    'def f(x):\n\treturn x * 2\n',
    'printf("%s\\n", path);  // C:\\Users\\admin\\file.txt',
    'SELECT "user_id", spend FROM "LiteLLM_UserTable" WHERE spend > 10;',
    'regex: ^\\d{3}-\\d{4}$ and a tab\there',
    '{"nested": "json \\"quoted\\" text", "n": [1, 2, 3]}',
    "it's a 'single' and \"double\" quote test\r\nwith CRLF",
    'COPY escapes: \\N is not NULL here, nor is \\. the end',
    '<div class="x">&amp; &lt;tag&gt;</div>',
    "line1\nline2\n\nline4 after a blank line",
]


def vocab256(words, marks):
    """Exactly 256 distinct words: the list, then variants with marks."""
    out, seen = [], set()
    variants = [lambda w: w] + [lambda w, m=m: w + m for m in marks] + [lambda w: w.capitalize()]
    for v in variants:
        for w in words:
            x = v(w)
            if x not in seen:
                seen.add(x)
                out.append(x)
            if len(out) == 256:
                return out
    raise ValueError("vocabulary too small")


# (share of texts, no-space-between-words allowed, words)
VOCABS = [
    (0.62, False, vocab256(EN, [",", ".", "?", "s", ":", "!"])),
    (0.10, False, vocab256(FR_DE_ES + EN, [",", ".", "?", "!"])),
    (0.12, True, vocab256(CJK, ["、", "。", "！", "？", "は", "의", "の", "了", "吗", "를"])),
    (0.10, False, vocab256(RTL, ["،", ".", "؟", "!", ":", "׳", "?", "-", ";"])),
    (0.06, False, vocab256(EMOJI + EN, [",", ".", "!", "?"])),
]

SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a senior SRE. Answer briefly and precisely.",
    "Eres un asistente útil que responde en español.",
    "あなたは親切なアシスタントです。",
    "أنت مساعد مفيد.",
    "Translate the user's text to French. Keep formatting.",
]
MODELS = [
    # (model_name, litellm model, provider, api_base, input $/1k, output $/1k)
    ("gpt-4o", "openai/gpt-4o", "openai", "https://api.openai.com/v1", 0.0025, 0.01),
    ("gpt-4o-mini", "openai/gpt-4o-mini", "openai", "https://api.openai.com/v1", 0.00015, 0.0006),
    ("claude-3-5-sonnet", "anthropic/claude-3-5-sonnet-20241022", "anthropic",
     "https://api.anthropic.com", 0.003, 0.015),
    ("claude-3-5-haiku", "anthropic/claude-3-5-haiku-20241022", "anthropic",
     "https://api.anthropic.com", 0.0008, 0.004),
    ("azure-gpt-4o", "azure/gpt-4o-prod", "azure",
     "https://contoso-eastus.openai.azure.com", 0.0025, 0.01),
    ("bedrock-llama3", "bedrock/meta.llama3-1-70b-instruct-v1:0", "bedrock",
     "https://bedrock-runtime.us-east-1.amazonaws.com", 0.00099, 0.00099),
    ("gemini-1.5-pro", "gemini/gemini-1.5-pro", "gemini",
     "https://generativelanguage.googleapis.com", 0.00125, 0.005),
    ("mistral-large", "mistral/mistral-large-latest", "mistral", "https://api.mistral.ai/v1", 0.002, 0.006),
    ("text-embedding-3-small", "openai/text-embedding-3-small", "openai",
     "https://api.openai.com/v1", 0.00002, 0.0),
    ("dall-e-3", "openai/dall-e-3", "openai", "https://api.openai.com/v1", 0.04, 0.0),
]
CALL_TYPES = ["acompletion"] * 14 + ["completion", "aembedding", "atext_completion", "aimage_generation"]
ROLES = ["proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer", "team", "customer"]
EXCEPTIONS = [
    ("RateLimitError", "429", "litellm.RateLimitError: OpenAIException - Rate limit reached for gpt-4o"),
    ("Timeout", "408", "litellm.Timeout: Connection timed out after 600.0 seconds."),
    ("BadRequestError", "400", "litellm.BadRequestError: context_length_exceeded: maximum context length is 128000 tokens"),
    ("AuthenticationError", "401", "litellm.AuthenticationError: Incorrect API key provided: sk-proj-****abcd"),
    ("ServiceUnavailableError", "503", "litellm.ServiceUnavailableError: The server is overloaded ⚠️"),
    ("InternalServerError", "500", "litellm.InternalServerError: AnthropicException - {\"type\":\"error\"}"),
]


class Gen:
    def __init__(self, seed, mb):
        self.r = random.Random(seed)
        self.seed = seed
        self.target = mb * 1e6
        m = max(mb, 0.0)
        self.n_budgets = int(min(10 + m * 0.5, 2000))
        self.n_orgs = int(min(3 + m * 0.2, 500))
        self.n_modeltable = int(min(4 + m * 0.2, 1000))
        self.n_teams = int(min(8 + m, 5000))
        self.n_users = int(min(40 + m * 10, 100000))
        self.n_keys = int(self.n_users * 1.5)
        self.n_endusers = int(min(20 + m * 5, 50000))
        self.n_creds = 6
        self.n_proxymodels = len(MODELS) + int(min(m * 0.05, 200))
        if mb <= 0:
            for a in ("n_budgets", "n_orgs", "n_modeltable", "n_teams", "n_users", "n_keys",
                      "n_endusers", "n_creds", "n_proxymodels"):
                setattr(self, a, 0)

    # -- helpers
    def uid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def hexs(self, n):
        return "%0*x" % (n, self.r.getrandbits(n * 4))

    def words(self, n):
        """n random words of one language (each word drawn independently, so
        the text compresses like prose, without long repeats)."""
        r = self.r
        pick = r.random()
        for weight, cjk, vocab in VOCABS:
            pick -= weight
            if pick < 0:
                break
        if n == 1:
            text = vocab[r.randrange(256)]
        else:
            # one random byte per word, looked up in C: fast for big texts
            text = ("" if cjk and r.random() < 0.5 else " ").join(itemgetter(*r.randbytes(n))(vocab))
        if r.random() < 0.15:
            text += " " + r.choice(EMOJI)
        if r.random() < 0.12:
            text += "\n\n```\n" + r.choice(CODE) + "\n```\n"
        return text

    def text_len(self):
        # mostly short chats, a long tail of big prompts (pasted documents)
        x = self.r.lognormvariate(3.6, 1.1)
        return max(1, min(int(x), 6000))

    def ms_in_past(self, days=90):
        return BASE_MS - self.r.randrange(days * DAY_MS)

    # -- tables
    def budgets(self, o):
        r = self.r
        o.copy("LiteLLM_BudgetTable", ["budget_id", "max_budget", "soft_budget", "max_parallel_requests",
                                       "tpm_limit", "rpm_limit", "model_max_budget", "budget_duration",
                                       "budget_reset_at", "created_at", "created_by", "updated_at",
                                       "updated_by"])
        self.budget_ids = []
        for i in range(self.n_budgets):
            bid = self.uid()
            self.budget_ids.append(bid)
            mx = r.choice([None, 10.0, 100.0, 1000.0, 25000.0])
            created = self.ms_in_past(365)
            mmb = None if r.random() < 0.6 else {m[0]: {"budget_limit": r.choice([5.0, 50.0]),
                                                       "time_period": "1d"} for m in r.sample(MODELS, 2)}
            o.row([bid, opt(mx, repr), opt(None if mx is None else mx * 0.8, repr),
                   opt(r.choice([None, 10, 100])), opt(r.choice([None, 100000, 2000000])),
                   opt(r.choice([None, 60, 1000])), opt(mmb, jtxt), opt(r.choice([None, "1d", "7d", "30d"])),
                   opt(r.choice([None, BASE_MS + DAY_MS]), ts), ts(created), "default_user_id",
                   ts(created + r.randrange(DAY_MS)), "default_user_id"])
        o.end_copy()

    def orgs(self, o):
        r = self.r
        o.copy("LiteLLM_OrganizationTable", ["organization_id", "organization_alias", "budget_id", "metadata",
                                             "models", "spend", "model_spend", "created_at", "created_by",
                                             "updated_at", "updated_by"])
        self.org_ids = []
        for i in range(self.n_orgs):
            oid = self.uid()
            self.org_ids.append(oid)
            created = self.ms_in_past(365)
            alias = r.choice(["Acme Corp", "Globex", "Initech", "Umbrella", "Stark Industries",
                              "Wayne Enterprises", "株式会社テスト", "شركة المثال", "Müller & Söhne GmbH"])
            o.row([oid, esc("%s %d" % (alias, i)), r.choice(self.budget_ids),
                   jtxt({"cost_center": "CC-%04d" % r.randrange(10000), "tier": r.choice(["gold", "silver"])}),
                   arr(r.sample([m[0] for m in MODELS], r.randrange(0, 4))) if r.random() < 0.8 else NULL,
                   repr(round(r.uniform(0, 5000), 4)),
                   jtxt({m[0]: round(r.uniform(0, 100), 4) for m in r.sample(MODELS, 2)}),
                   ts(created), "default_user_id", ts(created + r.randrange(DAY_MS * 30)), "default_user_id"])
        o.end_copy()

    def modeltable(self, o):
        r = self.r
        o.copy("LiteLLM_ModelTable", ["id", "aliases", "created_at", "created_by", "updated_at", "updated_by"])
        for i in range(1, self.n_modeltable + 1):
            created = self.ms_in_past(365)
            o.row([str(i), opt(None if r.random() < 0.2 else {"gpt4": "gpt-4o", "fast": "gpt-4o-mini"}, jtxt),
                   ts(created), "default_user_id", ts(created), "default_user_id"])
        o.end_copy()
        o.write("SELECT setval(pg_get_serial_sequence('\"LiteLLM_ModelTable\"', 'id'), %d, %s);\n"
                % (max(self.n_modeltable, 1), "true" if self.n_modeltable else "false"))

    def teams(self, o):
        r = self.r
        o.copy("LiteLLM_TeamTable", ["team_id", "team_alias", "organization_id", "admins", "members",
                                     "members_with_roles", "metadata", "max_budget", "spend", "models",
                                     "max_parallel_requests", "tpm_limit", "rpm_limit", "budget_duration",
                                     "budget_reset_at", "blocked", "created_at", "updated_at", "model_spend",
                                     "model_max_budget", "model_id"])
        self.team_ids = [self.uid() for _ in range(self.n_teams)]
        # the users are made later; their ids are fixed now so teams can list them
        self.user_ids = ["user-%s" % self.hexs(12) for _ in range(self.n_users)]
        self.user_teams = {u: [] for u in self.user_ids}
        model_ids = list(range(1, self.n_modeltable + 1))
        r.shuffle(model_ids)
        for i, tid in enumerate(self.team_ids):
            members = r.sample(self.user_ids, min(len(self.user_ids), r.randrange(1, 12)))
            for u in members:
                self.user_teams[u].append(tid)
            admins = members[:1]
            created = self.ms_in_past(365)
            o.row([tid, opt(None if r.random() < 0.1 else "team-%s-%d" % (r.choice(EN), i), esc),
                   opt(r.choice(self.org_ids) if self.org_ids and r.random() < 0.8 else None),
                   arr(admins), arr(members),
                   jtxt([{"role": "admin" if u in admins else "user", "user_id": u, "user_email": None}
                         for u in members]),
                   jtxt({"team_description": self.words(8)} if r.random() < 0.5 else {}),
                   opt(r.choice([None, 100.0, 500.0]), repr), repr(round(r.uniform(0, 800), 6)),
                   arr(r.sample([m[0] for m in MODELS], r.randrange(0, 5))),
                   opt(r.choice([None, 20])), opt(r.choice([None, 500000])), opt(r.choice([None, 600])),
                   opt(r.choice([None, "30d"])), opt(r.choice([None, BASE_MS + 7 * DAY_MS]), ts),
                   "t" if r.random() < 0.05 else "f", ts(created), ts(created + r.randrange(DAY_MS)),
                   jtxt({}), jtxt({}), opt(model_ids.pop() if model_ids and r.random() < 0.5 else None)])
        o.end_copy()

    def users(self, o):
        r = self.r
        o.copy("LiteLLM_UserTable", ["user_id", "user_alias", "team_id", "sso_user_id", "organization_id",
                                     "password", "teams", "user_role", "max_budget", "spend", "user_email",
                                     "models", "metadata", "max_parallel_requests", "tpm_limit", "rpm_limit",
                                     "budget_duration", "budget_reset_at", "allowed_cache_controls",
                                     "model_spend", "model_max_budget", "created_at", "updated_at"])
        names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
                 "José", "Zoë", "Łukasz", "田中", "محمد", "יעל", "Ørjan"]
        for i, u in enumerate(self.user_ids):
            name = r.choice(names)
            created = self.ms_in_past(365)
            teams = self.user_teams[u]
            o.row([u, opt(None if r.random() < 0.3 else "%s %d" % (name, i), esc),
                   opt(teams[0] if teams and r.random() < 0.3 else None),
                   opt("sso-%s" % self.hexs(16) if r.random() < 0.2 else None),
                   opt(r.choice(self.org_ids) if self.org_ids and r.random() < 0.6 else None),
                   opt("$2b$12$" + self.hexs(53) if r.random() < 0.1 else None),
                   arr(teams), r.choice(ROLES), opt(r.choice([None, 50.0, 200.0]), repr),
                   repr(round(r.uniform(0, 300), 6)),
                   opt(None if r.random() < 0.2 else "%s.%d@example.com" % (name.lower(), i), esc),
                   arr(None if r.random() < 0.5 else r.sample([m[0] for m in MODELS], 2)),
                   jtxt({"sso": {"groups": ["eng"]}} if r.random() < 0.2 else {}),
                   NULL, opt(r.choice([None, 100000])), opt(r.choice([None, 100])), NULL, NULL,
                   arr([] if r.random() < 0.9 else ["no-cache", "no-store"]), jtxt({}), jtxt({}),
                   ts(created), opt(None if r.random() < 0.02 else created + 1000, ts)])
        o.end_copy()

    def tokens(self, o):
        r = self.r
        o.copy("LiteLLM_VerificationToken", [
            "token", "key_name", "key_alias", "soft_budget_cooldown", "spend", "expires", "models", "aliases",
            "config", "user_id", "team_id", "permissions", "max_parallel_requests", "metadata", "blocked",
            "tpm_limit", "rpm_limit", "max_budget", "budget_duration", "budget_reset_at",
            "allowed_cache_controls", "model_spend", "model_max_budget", "budget_id", "organization_id",
            "created_at", "created_by", "updated_at", "updated_by"])
        self.token_owner = []  # (hashed token, user, team, key alias)
        for i in range(self.n_keys):
            raw = "sk-" + self.hexs(22)
            tok = hashlib.sha256(raw.encode()).hexdigest()
            user = r.choice(self.user_ids) if self.user_ids and r.random() < 0.9 else None
            team = (r.choice(self.user_teams[user]) if user and self.user_teams[user] else
                    (r.choice(self.team_ids) if self.team_ids and r.random() < 0.3 else None))
            alias = None if r.random() < 0.3 else "key-%s-%d" % (r.choice(EN), i)
            self.token_owner.append((tok, user, team, alias))
            created = self.ms_in_past(365)
            o.row([tok, "sk-...%s" % raw[-4:], opt(alias, esc), "f", repr(round(r.uniform(0, 150), 6)),
                   opt(r.choice([None, None, BASE_MS + 90 * DAY_MS, BASE_MS - DAY_MS]), ts),
                   arr([] if r.random() < 0.6 else r.sample([m[0] for m in MODELS], 3)), jtxt({}), jtxt({}),
                   opt(user), opt(team), jtxt({}), opt(r.choice([None, 5])),
                   jtxt({"tags": ["prod"]} if r.random() < 0.3 else {}), opt(r.choice([None, False, True]),
                                                                            lambda b: "t" if b else "f"),
                   opt(r.choice([None, 10000])), opt(r.choice([None, 60])), opt(r.choice([None, 25.0]), repr),
                   opt(r.choice([None, "30d"])), NULL, arr([]), jtxt({}), jtxt({}),
                   opt(r.choice(self.budget_ids) if self.budget_ids and r.random() < 0.2 else None),
                   opt(r.choice(self.org_ids) if self.org_ids and r.random() < 0.3 else None),
                   ts(created), opt(user or "default_user_id"), ts(created + 5), opt(user or "default_user_id")])
        o.end_copy()

    def endusers(self, o):
        r = self.r
        o.copy("LiteLLM_EndUserTable", ["user_id", "alias", "spend", "allowed_model_region", "default_model",
                                        "budget_id", "blocked"])
        self.enduser_ids = []
        for i in range(self.n_endusers):
            eid = "customer-%s" % self.hexs(10)
            self.enduser_ids.append(eid)
            o.row([eid, opt(None if r.random() < 0.5 else "Customer %d" % i), repr(round(r.uniform(0, 20), 6)),
                   opt(r.choice([None, "eu", "us"])), opt(r.choice([None, "gpt-4o-mini"])),
                   opt(r.choice(self.budget_ids) if self.budget_ids and r.random() < 0.3 else None),
                   "t" if r.random() < 0.03 else "f"])
        o.end_copy()

    def memberships(self, o):
        r = self.r
        o.copy("LiteLLM_TeamMembership", ["user_id", "team_id", "spend", "budget_id"])
        for u in self.user_ids:
            for t in self.user_teams[u]:
                o.row([u, t, repr(round(r.uniform(0, 50), 6)),
                       opt(r.choice(self.budget_ids) if self.budget_ids and r.random() < 0.3 else None)])
        o.end_copy()
        o.copy("LiteLLM_OrganizationMembership", ["user_id", "organization_id", "user_role", "spend",
                                                  "budget_id", "created_at", "updated_at"])
        for u in self.user_ids:
            if not self.org_ids:
                break
            for oid in r.sample(self.org_ids, min(len(self.org_ids), r.randrange(0, 3))):
                created = self.ms_in_past(200)
                o.row([u, oid, opt(r.choice([None, "org_admin", "internal_user"])),
                       opt(r.choice([None, 0.0, 12.5]), repr),
                       opt(r.choice(self.budget_ids) if r.random() < 0.2 else None),
                       ts(created), ts(created)])
        o.end_copy()

    def invitations(self, o):
        r = self.r
        o.copy("LiteLLM_InvitationLink", ["id", "user_id", "is_accepted", "accepted_at", "expires_at",
                                          "created_at", "created_by", "updated_at", "updated_by"])
        for _ in range(len(self.user_ids) // 10):
            created = self.ms_in_past(60)
            acc = r.random() < 0.6
            admin = self.user_ids[0]
            o.row([self.uid(), r.choice(self.user_ids), "t" if acc else "f",
                   opt(created + 3600000 if acc else None, ts), ts(created + 7 * DAY_MS), ts(created), admin,
                   ts(created), admin])
        o.end_copy()
        o.copy("LiteLLM_UserNotifications", ["request_id", "user_id", "models", "justification", "status"])
        for _ in range(len(self.user_ids) // 20):
            o.row([self.uid(), r.choice(self.user_ids), arr([r.choice(MODELS)[0]]),
                   esc(self.words(r.randrange(5, 30))), r.choice(["pending", "approved", "rejected"])])
        o.end_copy()

    def models(self, o):
        r = self.r
        o.copy("LiteLLM_CredentialsTable", ["credential_id", "credential_name", "credential_values",
                                            "credential_info", "created_at", "created_by", "updated_at",
                                            "updated_by"])
        for i in range(self.n_creds):
            created = self.ms_in_past(300)
            # values are encrypted with LITELLM_SALT_KEY in the real proxy: opaque base64
            o.row([self.uid(), "cred-%s-%d" % (MODELS[i % len(MODELS)][2], i),
                   jtxt({"api_key": self.hexs(64), "api_base": MODELS[i % len(MODELS)][3]}),
                   opt(None if i % 2 else {"custom_llm_provider": MODELS[i % len(MODELS)][2]}, jtxt),
                   ts(created), "default_user_id", ts(created), "default_user_id"])
        o.end_copy()
        o.copy("LiteLLM_ProxyModelTable", ["model_id", "model_name", "litellm_params", "model_info",
                                           "created_at", "created_by", "updated_at", "updated_by"])
        self.model_ids = []
        for i in range(self.n_proxymodels):
            m = MODELS[i % len(MODELS)]
            mid = self.uid()
            self.model_ids.append((mid, m))
            created = self.ms_in_past(300)
            o.row([mid, m[0], jtxt({"model": m[1], "api_base": m[3], "api_key": "os.environ/%s_API_KEY"
                                    % m[2].upper(), "rpm": r.choice([None, 500, 10000])}),
                   opt({"id": mid, "db_model": True, "input_cost_per_token": m[4] / 1000,
                        "output_cost_per_token": m[5] / 1000}, jtxt),
                   ts(created), "default_user_id", ts(created), "default_user_id"])
        o.end_copy()
        o.copy("LiteLLM_Config", ["param_name", "param_value"])
        if self.n_proxymodels:
            for k, v in [("general_settings", {"store_model_in_db": True, "alerting": ["slack"]}),
                         ("litellm_settings", {"drop_params": True, "success_callback": ["prometheus"],
                                               "cache": True}),
                         ("router_settings", {"routing_strategy": "simple-shuffle", "num_retries": 2}),
                         ("environment_variables", {"SLACK_WEBHOOK_URL": "enc:" + self.hexs(48)}),
                         ("ui_theme", None)]:
                o.row([k, opt(v, jtxt)])
        o.end_copy()

    def chat(self):
        r = self.r
        msgs = []
        if r.random() < 0.6:
            msgs.append({"role": "system", "content": r.choice(SYSTEM_PROMPTS)})
        turns = 1 if r.random() < 0.7 else r.randrange(2, 6)
        for t in range(turns):
            # about 1 % of prompts carry a pasted document (tens of KB)
            n = self.text_len() if r.random() >= 0.01 else r.randrange(3000, 12000)
            msgs.append({"role": "user", "content": self.words(n)})
            if t < turns - 1:
                msgs.append({"role": "assistant", "content": self.words(self.text_len())})
        return msgs

    def spendlogs(self, o, budget):
        """Spend logs until `budget` bytes of output; returns the row count."""
        r = self.r
        cols = ["request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens",
                "completion_tokens", "startTime", "endTime", "completionStartTime", "model", "model_id",
                "model_group", "custom_llm_provider", "api_base", "user", "metadata", "cache_hit", "cache_key",
                "request_tags", "team_id", "end_user", "requester_ip_address", "messages", "response"]
        o.copy("LiteLLM_SpendLogs", cols)
        n = 0
        self.spend_ids = []
        if not self.token_owner or not self.model_ids:
            o.end_copy()
            return 0
        ms = BASE_MS - 90 * DAY_MS
        while o.total + o.pending < budget:
            n += 1
            ms += r.randrange(1, 20000)
            call = r.choice(CALL_TYPES)
            mid, m = r.choice(self.model_ids)
            tok, user, team, alias = r.choice(self.token_owner)
            rid = "chatcmpl-" + self.uid()
            if n % 20 == 0:
                self.spend_ids.append(rid)
            latency = int(r.lognormvariate(7, 0.8))
            start, end = ms, ms + latency
            ok = r.random() < 0.97
            if call == "aembedding":
                msgs = {"input": [self.words(r.randrange(3, 60))]}
                pt, ct = r.randrange(3, 400), 0
                resp = {"object": "list", "model": m[1].split("/")[-1],
                        "data": [{"object": "embedding", "index": 0, "embedding": "<redacted 1536 floats>"}],
                        "usage": {"prompt_tokens": pt, "total_tokens": pt}}
            elif call == "aimage_generation":
                msgs = {"prompt": self.words(r.randrange(5, 40))}
                pt, ct = 0, 0
                resp = {"created": start // 1000, "data": [{"url": "https://example.com/img/%s.png" % self.hexs(16),
                                                            "revised_prompt": self.words(20)}]}
            else:
                msgs = self.chat()
                content = self.words(self.text_len())
                pt = sum(len(x["content"]) for x in msgs) // 4 + 7
                ct = len(content) // 4 + 1
                finish = r.choice(["stop"] * 8 + ["length", "tool_calls"])
                message = {"role": "assistant", "content": content, "tool_calls": None, "function_call": None}
                if finish == "tool_calls":
                    message["content"] = None
                    message["tool_calls"] = [{"id": "call_" + self.hexs(24), "type": "function",
                                              "function": {"name": "get_weather",
                                                           "arguments": json.dumps({"city": "Zürich",
                                                                                    "unit": "celsius"})}}]
                resp = {"id": rid, "object": "chat.completion", "created": start // 1000,
                        "model": m[1].split("/")[-1], "system_fingerprint": "fp_" + self.hexs(10),
                        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
                        "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}
            if not ok:
                resp = {}
            spend = round(pt / 1000 * m[4] + ct / 1000 * m[5], 10) if ok else 0.0
            store = r.random()
            if store < 0.1:
                msgs_txt, resp_txt = jtxt({}), jtxt({})  # store_prompts_in_spend_logs off
            elif store < 0.13:
                msgs_txt, resp_txt = NULL, NULL
            else:
                msgs_txt, resp_txt = jtxt(msgs), jtxt(resp)
            ip = "10.%d.%d.%d" % (r.randrange(256), r.randrange(256), r.randrange(1, 255))
            meta = {"user_api_key": tok, "user_api_key_alias": alias, "user_api_key_team_id": team,
                    "user_api_key_user_id": user, "user_api_key_org_id": None, "user_api_key_team_alias": None,
                    "spend_logs_metadata": None if r.random() < 0.8 else {"trace_id": self.uid()},
                    "requester_ip_address": ip, "status": "success" if ok else "failure",
                    "additional_usage_values": {"prompt_tokens_details": {"cached_tokens": 0}}}
            if not ok:
                ex = r.choice(EXCEPTIONS)
                meta["error_information"] = {"error_code": ex[1], "error_class": ex[0], "error_message": ex[2]}
            cache_hit = r.choice(["False"] * 8 + ["True", ""])
            end_user = r.choice(self.enduser_ids) if self.enduser_ids and r.random() < 0.3 else None
            o.row([rid, call, tok if r.random() < 0.98 else "", repr(spend), str(pt + ct), str(pt), str(ct),
                   ts(start), ts(end), opt(start + latency // 3 if r.random() < 0.7 else None, ts),
                   m[1].split("/")[-1], mid, m[0], m[2], m[3], user or "", jtxt(meta), cache_hit,
                   self.hexs(64) if cache_hit == "True" else "",
                   jtxt(r.sample(["prod", "batch", "ui", "eval", "标签", "🏷️"], r.randrange(0, 3))),
                   opt(team), opt(end_user), opt(ip if r.random() < 0.9 else None),
                   msgs_txt, resp_txt])
        o.end_copy()
        return n

    def errorlogs(self, o, count):
        r = self.r
        o.copy("LiteLLM_ErrorLogs", ["request_id", "startTime", "endTime", "api_base", "model_group",
                                     "litellm_model_name", "model_id", "request_kwargs", "exception_type",
                                     "exception_string", "status_code"])
        for i in range(count):
            mid, m = r.choice(self.model_ids)
            ex = r.choice(EXCEPTIONS)
            start = self.ms_in_past(90)
            o.row([self.uid(), ts(start), ts(start + r.randrange(10, 600000)), m[3], m[0], m[1], mid,
                   jtxt({"model": m[1], "messages": self.chat()[-1:], "temperature": r.choice([0, 0.7, 1]),
                         "stream": r.random() < 0.3}),
                   ex[0], esc(ex[2] + ("\nTraceback (most recent call last):\n  File \"router.py\", line 42"
                                       if r.random() < 0.5 else "")), ex[1]])
        o.end_copy()

    def auditlog(self, o, count):
        r = self.r
        o.copy("LiteLLM_AuditLog", ["id", "updated_at", "changed_by", "changed_by_api_key", "action",
                                    "table_name", "object_id", "before_value", "updated_values"])
        for i in range(count):
            tok, user, team, alias = r.choice(self.token_owner)
            action = r.choice(["created", "updated", "deleted", "blocked", "rotated"])
            table = r.choice(["LiteLLM_VerificationToken", "LiteLLM_TeamTable", "LiteLLM_UserTable"])
            before = None if action == "created" else {"max_budget": 10.0, "models": []}
            after = None if action == "deleted" else {"max_budget": 20.0, "models": ["gpt-4o"],
                                                       "note": self.words(6)}
            o.row([self.uid(), ts(self.ms_in_past(90)), user or "", tok, action, table,
                   team or tok, opt(before, jtxt), opt(after, jtxt)])
        o.end_copy()

    def run(self, o):
        o.write("BEGIN;\n")
        self.budgets(o)
        self.orgs(o)
        self.modeltable(o)
        self.teams(o)
        self.users(o)
        self.tokens(o)
        self.endusers(o)
        self.memberships(o)
        self.invitations(o)
        self.models(o)
        # spend logs take what is left of the budget, minus the error and
        # audit logs that follow (about 6 % of it)
        budget = max(self.target - DISK_FIXED_BYTES, self.target * 0.3) / DISK_PER_TEXT_BYTE
        written = o.total + o.pending
        n = self.spendlogs(o, written + max(budget - written, 0) * 0.94 if self.target > 0 else 0)
        if self.model_ids:
            self.errorlogs(o, max(n // 25, 1) if n else 0)
            self.auditlog(o, max(n // 40, 1) if n else 0)
        else:
            self.errorlogs(o, 0)
            self.auditlog(o, 0)
        o.write("COMMIT;\n")
        return n


PRISMA_DDL = """CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);
"""


def emit_schema(o, path, seed):
    with open(path, "rb") as f:
        data = f.read()
    o.write("SET client_min_messages = warning;\n")
    o.write(data.decode("utf-8"))
    o.write("\n")
    o.write(PRISMA_DDL)
    rid = str(uuid.UUID(int=random.Random("prisma-%d" % seed).getrandbits(128), version=4))
    started = BASE_MS - 152 * DAY_MS  # 2025-04-02
    o.write("INSERT INTO \"_prisma_migrations\" (id, checksum, finished_at, migration_name, logs, rolled_back_at, "
            "started_at, applied_steps_count) VALUES ('%s', '%s', '%s', '20250326162113_baseline', NULL, NULL, "
            "'%s', 1);\n" % (rid, hashlib.sha256(data).hexdigest(), tstz(started + 850), tstz(started)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--schema", metavar="FILE")
    a = ap.parse_args()
    if a.mb < 0:
        ap.error("--mb must be >= 0")
    o = Out(sys.stdout.buffer)
    t0 = time.monotonic()
    try:
        if a.schema:
            emit_schema(o, a.schema, a.seed)
        n = Gen(a.seed, a.mb).run(o)
        o.flush()
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        sys.stderr.write("gen_litellm_data: output closed early\n")
        return 1
    dt = time.monotonic() - t0
    sys.stderr.write("gen_litellm_data: %d spend logs, %.1f MB of SQL in %.1fs (%.1f MB/s)\n"
                     % (n, o.total / 1e6, dt, o.total / 1e6 / max(dt, 1e-9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
