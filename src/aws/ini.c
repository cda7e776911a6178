/*
 * ini.c - the AWS shared file dialect on top of libinih (see ini.h).
 *
 * libinih does the tokenising; around it we add what it lacks for this
 * dialect: our own line reader, which counts lines (the handler is not given
 * line numbers in Debian's build) and tracks the section header in full (inih
 * keeps only the first 49 bytes), nested blocks, and messages that say which
 * line is wrong and why.
 */
#include "aws/ini.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/mem.h"

/* Longest line we accept. Session tokens run to a few KB; anything near this
 * size is not a config file. */
enum { INI_LINE_MAX = 64 * 1024 };
/* Largest file we read. */
enum { INI_FILE_MAX = 4 * 1024 * 1024 };

/*
 * Debian's libinih exposes its compile-time options as process-wide
 * variables. They are library configuration, not state: every caller in
 * drctl wants the same values, so they are set exactly once, before the first
 * parse, under pthread_once. The defaults would be wrong for AWS files:
 * inline ';' comments (botocore has none) and a 200-byte stack line buffer
 * (session tokens are longer; inih would split the line and report an error
 * on a line number that does not exist).
 */
static pthread_once_t ini_once = PTHREAD_ONCE_INIT;

static void ini_configure(void)
{
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = INI_LINE_MAX;
    ini_allow_inline_comments = false;
    ini_allow_multiline = true;
    ini_allow_no_value = false;
    ini_allow_bom = true;
    /* Stop at the first error so that the line our reader is on is the
     * line inih complains about. */
    ini_stop_on_first_error = true;
}

typedef struct parse_state {
    const char *data;
    size_t len, pos;
    int line;           /* line being parsed, 1-based, counted by the reader */
    int at_line_start;  /* the next reader call starts a new line */
    int line_continues; /* inih will treat this line as a continuation */
    int have_prev_key;  /* mirrors inih's prev_name: a key since the last header */
    char *section;      /* current section, normalised; NULL before any header */
    dr_ini *ini;
    long last_top;     /* index of the last top-level entry, -1 if none */
    int last_is_block; /* that entry had an empty value: continuations nest */
    int err_line;      /* set when the handler rejected a line */
    char err_reason[200];
} parse_state;

static int is_space(char c)
{
    return isspace((unsigned char)c) != 0;
}

/* Copies s[0..n) trimmed; a two-word header keeps one space between the
 * words and loses quotes around the second (`profile "a b"` -> "profile a b"). */
static char *normalise_section(const char *s, size_t n)
{
    while (n && is_space(*s)) {
        s++;
        n--;
    }
    while (n && is_space(s[n - 1]))
        n--;
    size_t w = 0;
    while (w < n && !is_space(s[w]))
        w++;
    if (w == n)
        return dr_xstrndup(s, n);
    const char *rest = s + w;
    size_t rn = n - w;
    while (rn && is_space(*rest)) {
        rest++;
        rn--;
    }
    if (rn >= 2 && (rest[0] == '"' || rest[0] == '\'') && rest[rn - 1] == rest[0]) {
        rest++;
        rn -= 2;
    }
    return dr_xasprintf("%.*s %.*s", (int)w, s, (int)rn, rest);
}

static void add_section(dr_ini *ini, const char *name)
{
    if (ini->nsections == ini->capsections) {
        ini->capsections = ini->capsections ? ini->capsections * 2 : 8;
        ini->sections = dr_xrealloc(ini->sections, ini->capsections * sizeof(*ini->sections));
    }
    ini->sections[ini->nsections++] = dr_xstrdup(name);
}

static dr_ini_entry *add_entry(dr_ini *ini)
{
    if (ini->n == ini->cap) {
        ini->cap = ini->cap ? ini->cap * 2 : 16;
        ini->entries = dr_xrealloc(ini->entries, ini->cap * sizeof(*ini->entries));
    }
    dr_ini_entry *e = &ini->entries[ini->n++];
    memset(e, 0, sizeof(*e));
    return e;
}

/*
 * Called by the reader when a new line begins: classifies it exactly as
 * inih is about to, so that the handler knows whether a call is for a key or
 * a continuation, and which section it is in.
 */
static void begin_line(parse_state *st)
{
    st->line++;
    st->line_continues = 0;
    const char *p = st->data + st->pos;
    const char *eol = memchr(p, '\n', st->len - st->pos);
    if (!eol)
        eol = st->data + st->len;
    const char *start = p;
    if (st->line == 1 && eol - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        start = p + 3;
    const char *q = start;
    while (q < eol && is_space(*q))
        q++;
    if (q == eol || *q == ';' || *q == '#')
        return; /* blank or comment: inih skips it and keeps prev_name */
    if (q > start && st->have_prev_key) {
        st->line_continues = 1;
        return;
    }
    if (*q == '[') {
        const char *close = memchr(q + 1, ']', (size_t)(eol - q - 1));
        if (!close)
            return; /* inih reports the error */
        free(st->section);
        st->section = normalise_section(q + 1, (size_t)(close - q - 1));
        st->have_prev_key = 0;
        add_section(st->ini, st->section);
    }
}

/* fgets-style reader over the in-memory file. */
static char *read_line(char *str, int num, void *stream)
{
    parse_state *st = stream;
    if (st->pos >= st->len || num <= 1)
        return NULL;
    if (st->at_line_start)
        begin_line(st);
    size_t room = (size_t)num - 1, n = 0;
    while (n < room && st->pos < st->len) {
        char c = st->data[st->pos++];
        str[n++] = c;
        if (c == '\n')
            break;
    }
    str[n] = '\0';
    st->at_line_start = (str[n - 1] == '\n');
    return str;
}

static int fail(parse_state *st, const char *reason)
{
    st->err_line = st->line;
    snprintf(st->err_reason, sizeof(st->err_reason), "%s", reason);
    return 0;
}

static char *trimmed_dup(const char *s, size_t n)
{
    while (n && is_space(*s)) {
        s++;
        n--;
    }
    while (n && is_space(s[n - 1]))
        n--;
    return dr_xstrndup(s, n);
}

static int add_continuation(parse_state *st, const char *value)
{
    if (st->last_top < 0)
        return fail(st, "indented line without a key before it");
    dr_ini_entry *top = &st->ini->entries[st->last_top];
    if (!st->last_is_block) {
        /* A multi-line value: configparser joins the lines with "\n". */
        char *joined = dr_xasprintf("%s\n%s", top->value, value);
        dr_free_secret(top->value);
        top->value = joined;
        return 1;
    }
    const char *eq = strchr(value, '=');
    if (!eq) {
        char reason[sizeof(st->err_reason)];
        snprintf(reason, sizeof(reason),
                 "malformed line in the nested block under '%.64s' (expected 'name = value')",
                 top->key);
        return fail(st, reason);
    }
    char *key = trimmed_dup(value, (size_t)(eq - value));
    if (!*key) {
        free(key);
        return fail(st, "missing name before '=' in a nested block");
    }
    /* Re-read `top` after add_entry: the array may move. */
    dr_ini_entry *e = add_entry(st->ini);
    top = &st->ini->entries[st->last_top];
    e->section = dr_xstrdup(top->section);
    e->parent = dr_xstrdup(top->key);
    e->key = key;
    e->value = trimmed_dup(eq + 1, strlen(eq + 1));
    e->line = st->line;
    return 1;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    (void)section; /* inih's copy is truncated at 49 bytes; we track our own */
    parse_state *st = user;
    int continues = st->line_continues;
    st->have_prev_key = 1;
    if (!value)
        value = "";
    if (continues)
        return add_continuation(st, value);
    if (!st->section)
        return fail(st, "setting outside any section (expected a '[section]' header before it)");
    if (!*name)
        return fail(st, "missing key name before '='");
    dr_ini_entry *e = add_entry(st->ini);
    e->section = dr_xstrdup(st->section);
    e->key = dr_xstrdup(name);
    e->value = dr_xstrdup(value);
    e->line = st->line;
    st->last_top = (long)(st->ini->n - 1);
    st->last_is_block = (*value == '\0');
    return 1;
}

/* Checks what inih cannot report usefully: NUL bytes and over-long lines. */
static int prescan(const char *path, const char *data, size_t len, dr_err *err)
{
    int line = 1;
    size_t line_len = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\0')
            return dr_err_set(err, DR_E_CONFIG, "%s:%d: contains a NUL byte (not a text file)",
                              path, line);
        if (data[i] == '\n') {
            line++;
            line_len = 0;
            continue;
        }
        if (++line_len > INI_LINE_MAX - 3) {
            dr_err_set(err, DR_E_CONFIG, "%s:%d: line too long (more than %d bytes)", path, line,
                       INI_LINE_MAX - 3);
            return dr_err_hint(err, "check that %s is an AWS config or credentials file", path);
        }
    }
    return 0;
}

int dr_ini_parse_buffer(const char *path, const char *data, size_t len, dr_ini **out, dr_err *err)
{
    *out = NULL;
    if (prescan(path, data, len, err) < 0)
        return -1;
    pthread_once(&ini_once, ini_configure);

    dr_ini *ini = dr_xcalloc(1, sizeof(*ini));
    ini->path = dr_xstrdup(path);
    parse_state st = {.data = data, .len = len, .at_line_start = 1, .ini = ini, .last_top = -1};
    int rc = ini_parse_stream(read_line, &st, on_entry, &st);
    free(st.section);
    if (rc == 0) {
        *out = ini;
        return 0;
    }
    dr_ini_free(ini);
    if (rc == -2)
        return dr_err_set(err, DR_E_INTERNAL, "%s: out of memory while parsing", path);
    if (rc < 0)
        return dr_err_set(err, DR_E_CONFIG, "%s: cannot read", path);
    /* With stop-on-first-error the reader is still on the failing line. The
     * message never quotes the line: it may hold a secret. */
    int line = st.err_line ? st.err_line : st.line;
    if (st.err_reason[0])
        dr_err_set(err, DR_E_CONFIG, "%s:%d: %s", path, line, st.err_reason);
    else
        dr_err_set(err, DR_E_CONFIG,
                   "%s:%d: malformed line (expected 'key = value' or '[section]')", path, line);
    return dr_err_hint(err,
                       "fix line %d of %s; the format is described at "
                       "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html",
                       line, path);
}

int dr_ini_load(const char *path, dr_ini **out, dr_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        /* A missing file is normal: most machines have only one of the two. */
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        int e = errno;
        dr_err_set(err, DR_E_CONFIG, "cannot read %s: %s", path, strerror(e));
        return dr_err_hint(err, "check the permissions of %s", path);
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return dr_err_set(err, DR_E_CONFIG, "cannot read %s: not a regular file", path);
    }
    if (sb.st_size > INI_FILE_MAX) {
        fclose(f);
        return dr_err_set(err, DR_E_CONFIG, "cannot read %s: larger than %d bytes", path,
                          INI_FILE_MAX);
    }
    /* st_size is a first guess: the file may change while we read it. */
    size_t cap = (size_t)sb.st_size + 1, len = 0;
    char *data = dr_xmalloc(cap);
    int too_big = 0;
    for (;;) {
        if (len + 1 == cap) {
            if (cap > INI_FILE_MAX) {
                too_big = 1;
                break;
            }
            char *bigger = dr_xmalloc(cap * 2);
            memcpy(bigger, data, len);
            dr_secure_zero(data, len);
            free(data);
            data = bigger;
            cap *= 2;
        }
        size_t n = fread(data + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    int read_err = ferror(f);
    fclose(f);
    if (read_err || too_big) {
        dr_secure_zero(data, len);
        free(data);
        return dr_err_set(err, DR_E_CONFIG, "cannot read %s: %s", path,
                          too_big ? "file too large" : "read error");
    }
    data[len] = '\0';
    int rc = dr_ini_parse_buffer(path, data, len, out, err);
    /* The file may hold secret keys. */
    dr_secure_zero(data, len);
    free(data);
    return rc;
}

void dr_ini_free(dr_ini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->n; i++) {
        free(ini->entries[i].section);
        free(ini->entries[i].parent);
        free(ini->entries[i].key);
        dr_free_secret(ini->entries[i].value);
    }
    free(ini->entries);
    for (size_t i = 0; i < ini->nsections; i++)
        free(ini->sections[i]);
    free(ini->sections);
    free(ini->path);
    free(ini);
}

int dr_ini_has_section(const dr_ini *ini, const char *section)
{
    if (!ini)
        return 0;
    for (size_t i = 0; i < ini->nsections; i++)
        if (strcmp(ini->sections[i], section) == 0)
            return 1;
    return 0;
}

const char *dr_ini_get(const dr_ini *ini, const char *section, const char *key)
{
    const char *found = NULL;
    if (!ini)
        return NULL;
    for (size_t i = 0; i < ini->n; i++) {
        const dr_ini_entry *e = &ini->entries[i];
        if (!e->parent && strcmp(e->section, section) == 0 && strcasecmp(e->key, key) == 0)
            found = e->value;
    }
    return found;
}

const char *dr_ini_get_nested(const dr_ini *ini, const char *section, const char *parent,
                              const char *key)
{
    const char *found = NULL;
    if (!ini)
        return NULL;
    for (size_t i = 0; i < ini->n; i++) {
        const dr_ini_entry *e = &ini->entries[i];
        if (e->parent && strcmp(e->section, section) == 0 && strcasecmp(e->parent, parent) == 0 &&
            strcasecmp(e->key, key) == 0)
            found = e->value;
    }
    return found;
}
