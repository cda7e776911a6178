/*
 * yaml_doc.c - YAML files into located node trees (see yaml_doc.h).
 *
 * Built on libyaml's event parser: each event carries its start mark, which
 * becomes the node's line and column. Anything libyaml accepts but profiles
 * do not (aliases, custom tags, maps as keys, duplicate keys, a second
 * document) is reported here with its place and either dropped or turned
 * into a DR_Y_INVALID node, so that loading goes on and every problem of a
 * file is reported in one run. A syntax error stops the file: libyaml cannot
 * resume after one.
 */
#include "stack/yaml_doc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/buf.h"
#include "util/mem.h"

/* Far more than any profile needs; they bound the recursion and the
 * (quadratic) duplicate-key check on hostile or runaway input. */
#define MAX_DEPTH 64
#define MAX_NODES 20000

static dr_ynode *arena_new(dr_yarena *a, dr_ykind kind, const char *file, int line, int col)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->nodes = dr_xrealloc(a->nodes, a->cap * sizeof(*a->nodes));
    }
    dr_ynode *n = dr_xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    a->nodes[a->n++] = n;
    return n;
}

void dr_yarena_free(dr_yarena *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->nodes[i]->value);
        free(a->nodes[i]->items);
        free(a->nodes[i]->pairs);
        free(a->nodes[i]);
    }
    free(a->nodes);
    memset(a, 0, sizeof(*a));
}

void dr_ydoc_free(dr_ydoc *doc)
{
    if (!doc)
        return;
    dr_yarena_free(&doc->arena);
    free(doc->file);
    free(doc);
}

typedef struct loader {
    yaml_parser_t parser;
    dr_ydoc *doc;
    dr_diags *diags;
    const char *buf; /* the file's bytes, to place reader errors (which carry an offset only) */
    size_t len;
    int failed;   /* a syntax error was reported: stop */
    size_t nodes; /* built so far, against MAX_NODES */
} loader;

static void offset_to_mark(const char *buf, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void syntax_error(loader *L)
{
    const yaml_parser_t *p = &L->parser;
    const char *file = L->doc->file;
    L->failed = 1;
    if (p->error == YAML_MEMORY_ERROR) {
        dr_diags_add(L->diags, file, 0, 0, "", "out of memory while reading YAML");
        return;
    }
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_READER_ERROR) {
        /* Bad encoding: libyaml gives the byte offset, not a mark. */
        int line, col;
        offset_to_mark(L->buf, L->len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            dr_diags_add(L->diags, file, line, col, "", "YAML syntax error: %s (byte 0x%02x)",
                         problem, (unsigned)p->problem_value & 0xffu);
        else
            dr_diags_add(L->diags, file, line, col, "", "YAML syntax error: %s", problem);
        return;
    }
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->context)
        dr_diags_add(L->diags, file, line, col, "",
                     "YAML syntax error: %s (%s at line %d, column %d)", problem, p->context,
                     (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    else
        dr_diags_add(L->diags, file, line, col, "", "YAML syntax error: %s", problem);
}

static int next_event(loader *L, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&L->parser, ev)) {
        syntax_error(L);
        return -1;
    }
    return 0;
}

static int mark_line(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

static int mark_col(const yaml_event_t *ev)
{
    return (int)ev->start_mark.column + 1;
}

/* Skips the rest of a collection whose start event was consumed. */
static int skip_collection(loader *L)
{
    int depth = 1;
    while (depth > 0) {
        yaml_event_t ev;
        if (next_event(L, &ev) != 0)
            return -1;
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
            depth++;
        else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
            depth--;
        yaml_event_delete(&ev);
    }
    return 0;
}

/* The YAML 1.2 core schema's tags, which only restate what the content
 * already says; any other tag means something profiles do not support. */
static int core_tag(const char *tag)
{
    static const char *const ok[] = {"tag:yaml.org,2002:str",   "tag:yaml.org,2002:int",
                                     "tag:yaml.org,2002:bool",  "tag:yaml.org,2002:null",
                                     "tag:yaml.org,2002:float", "tag:yaml.org,2002:map",
                                     "tag:yaml.org,2002:seq",   "!"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(tag, ok[i]) == 0)
            return 1;
    return 0;
}

static dr_ynode *build(loader *L, yaml_event_t *ev, int depth, const char *path);

static void seq_append(dr_ynode *seq, dr_ynode *item)
{
    seq->items = dr_xrealloc(seq->items, (seq->nitems + 1) * sizeof(*seq->items));
    seq->items[seq->nitems++] = item;
}

static dr_ynode *build_seq(loader *L, dr_ynode *seq, int depth, const char *path)
{
    for (;;) {
        yaml_event_t ev;
        if (next_event(L, &ev) != 0)
            return NULL;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return seq;
        }
        char *ipath = dr_xasprintf("%s[%zu]", path, seq->nitems);
        dr_ynode *item = build(L, &ev, depth + 1, ipath);
        free(ipath);
        if (!item)
            return NULL;
        seq_append(seq, item);
    }
}

/* path: the key path of the map, "" at the top; children's paths extend it
 * so that a problem inside names the key it is under. */
static dr_ynode *build_map(loader *L, dr_ynode *map, int depth, const char *path)
{
    for (;;) {
        yaml_event_t ev;
        if (next_event(L, &ev) != 0)
            return NULL;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return map;
        }
        dr_ynode *key = build(L, &ev, depth + 1, path);
        if (!key)
            return NULL;
        char *kpath = key->kind == DR_Y_SCALAR ? (path[0] ? dr_xasprintf("%s.%s", path, key->value)
                                                          : dr_xstrdup(key->value))
                                               : dr_xstrdup(path);
        int ok = next_event(L, &ev) == 0;
        dr_ynode *value = ok ? build(L, &ev, depth + 1, kpath) : NULL;
        if (!value) {
            free(kpath);
            return NULL;
        }
        int keep = 0;
        if (key->kind == DR_Y_INVALID) {
            /* reported already */
        } else if (key->kind != DR_Y_SCALAR) {
            dr_diags_add(L->diags, L->doc->file, key->line, key->col, path,
                         "a key must be a plain name, not %s",
                         key->kind == DR_Y_MAP ? "a map" : "a list");
        } else if (dr_ymap_pair(map, key->value)) {
            /* YAML forbids duplicate keys; libyaml lets them through and
             * most loaders silently keep the last, which hides mistakes in
             * long files. Keep the first and report the second. */
            const dr_ypair *first = dr_ymap_pair(map, key->value);
            dr_diags_add(L->diags, L->doc->file, key->line, key->col, kpath,
                         "duplicate key '%s' (first at line %d, column %d)", key->value,
                         first->key->line, first->key->col);
        } else {
            keep = 1;
        }
        free(kpath);
        if (!keep)
            continue;
        map->pairs = dr_xrealloc(map->pairs, (map->npairs + 1) * sizeof(*map->pairs));
        map->pairs[map->npairs].key = key;
        map->pairs[map->npairs].value = value;
        map->npairs++;
    }
}

/* Builds the node that starts with ev (consumed and deleted here). NULL
 * after a syntax error (reported). */
static dr_ynode *build(loader *L, yaml_event_t *ev, int depth, const char *path)
{
    const char *file = L->doc->file;
    int line = mark_line(ev), col = mark_col(ev);
    dr_yarena *a = &L->doc->arena;
    dr_ynode *n = NULL;
    const char *tag = NULL;

    if (++L->nodes > MAX_NODES) {
        dr_diags_add(L->diags, file, line, col, path,
                     "more than %d YAML nodes; a profile is a page of settings", MAX_NODES);
        L->failed = 1;
        yaml_event_delete(ev);
        return NULL;
    }

    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        dr_diags_add(L->diags, file, line, col, path,
                     "YAML aliases (*%s) are not supported in profiles; write the value out "
                     "(shared values belong in defaults.yaml)",
                     (const char *)ev->data.alias.anchor);
        n = arena_new(a, DR_Y_INVALID, file, line, col);
        break;
    case YAML_SCALAR_EVENT:
        tag = (const char *)ev->data.scalar.tag;
        if (tag && !core_tag(tag)) {
            dr_diags_add(L->diags, file, line, col, path, "YAML tag '%s' is not supported", tag);
            n = arena_new(a, DR_Y_INVALID, file, line, col);
            break;
        }
        n = arena_new(a, DR_Y_SCALAR, file, line, col);
        n->value = dr_xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        /* "'42'", "!!str 42" and "! 42" are strings; "!!int '42'" means 42. */
        if (tag)
            n->plain = strcmp(tag, "tag:yaml.org,2002:str") != 0 && strcmp(tag, "!") != 0;
        else
            n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        tag = is_map ? (const char *)ev->data.mapping_start.tag
                     : (const char *)ev->data.sequence_start.tag;
        if (depth >= MAX_DEPTH || (tag && !core_tag(tag))) {
            if (depth >= MAX_DEPTH)
                dr_diags_add(L->diags, file, line, col, path,
                             "nested more than %d levels deep; a profile is a few levels at most",
                             MAX_DEPTH);
            else
                dr_diags_add(L->diags, file, line, col, path, "YAML tag '%s' is not supported",
                             tag);
            yaml_event_delete(ev);
            if (skip_collection(L) != 0)
                return NULL;
            return arena_new(a, DR_Y_INVALID, file, line, col);
        }
        yaml_event_delete(ev);
        n = arena_new(a, is_map ? DR_Y_MAP : DR_Y_SEQ, file, line, col);
        return is_map ? build_map(L, n, depth, path) : build_seq(L, n, depth, path);
    }
    default:
        /* Cannot happen in a well-formed event stream. */
        dr_diags_add(L->diags, file, line, col, "", "YAML syntax error: unexpected event");
        L->failed = 1;
        yaml_event_delete(ev);
        return NULL;
    }
    yaml_event_delete(ev);
    return n;
}

static int read_file(const char *file, char **out, size_t *len, dr_diags *diags)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(file, "rb");
    if (!f) {
        dr_diags_add(diags, file, 0, 0, "", "cannot read: %s", strerror(errno));
        return -1;
    }
    dr_buf b = DR_BUF_INIT;
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        dr_buf_append(&b, chunk, got);
        if (b.len > DR_YDOC_MAX_BYTES)
            break;
    }
    int rerr = ferror(f);
    int saved = errno;
    fclose(f);
    if (rerr) {
        dr_diags_add(diags, file, 0, 0, "", "cannot read: %s", strerror(saved));
        dr_buf_free(&b);
        return -1;
    }
    if (b.len > DR_YDOC_MAX_BYTES) {
        dr_diags_add(diags, file, 0, 0, "", "larger than %d bytes; a profile is a page of settings",
                     DR_YDOC_MAX_BYTES);
        dr_buf_free(&b);
        return -1;
    }
    *len = b.len;
    *out = dr_buf_detach(&b);
    return 0;
}

int dr_ydoc_load(const char *file, dr_ydoc **out, dr_diags *diags)
{
    *out = NULL;
    char *text;
    size_t len;
    if (read_file(file, &text, &len, diags) != 0)
        return -1;

    loader L = {.diags = diags, .buf = text, .len = len};
    L.doc = dr_xcalloc(1, sizeof(*L.doc));
    L.doc->file = dr_xstrdup(file);
    if (!yaml_parser_initialize(&L.parser)) {
        dr_diags_add(diags, file, 0, 0, "", "out of memory while reading YAML");
        free(text);
        dr_ydoc_free(L.doc);
        return -1;
    }
    yaml_parser_set_input_string(&L.parser, (const unsigned char *)text, len);

    yaml_event_t ev;
    int rc = -1;
    if (next_event(&L, &ev) != 0) /* stream start */
        goto out;
    yaml_event_delete(&ev);
    if (next_event(&L, &ev) != 0)
        goto out;
    if (ev.type == YAML_STREAM_END_EVENT) { /* empty file */
        yaml_event_delete(&ev);
        rc = 0;
        goto out;
    }
    yaml_event_delete(&ev); /* document start */
    if (next_event(&L, &ev) != 0)
        goto out;
    L.doc->root = build(&L, &ev, 0, "");
    if (!L.doc->root)
        goto out;
    if (next_event(&L, &ev) != 0) /* document end */
        goto out;
    yaml_event_delete(&ev);
    if (next_event(&L, &ev) != 0)
        goto out;
    if (ev.type == YAML_DOCUMENT_START_EVENT)
        dr_diags_add(diags, file, mark_line(&ev), mark_col(&ev), "",
                     "a second YAML document; a profile is one document");
    yaml_event_delete(&ev);
    rc = 0;
out:
    yaml_parser_delete(&L.parser);
    free(text);
    if (rc != 0 || L.failed) {
        dr_ydoc_free(L.doc);
        return -1;
    }
    *out = L.doc;
    return 0;
}

const dr_ypair *dr_ymap_pair(const dr_ynode *map, const char *key)
{
    if (!map || map->kind != DR_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->npairs; i++)
        if (strcmp(map->pairs[i].key->value, key) == 0)
            return &map->pairs[i];
    return NULL;
}

dr_ynode *dr_ymap_get(const dr_ynode *map, const char *key)
{
    const dr_ypair *p = dr_ymap_pair(map, key);
    return p ? p->value : NULL;
}

dr_ynode *dr_ymerge(dr_yarena *arena, dr_ynode *base, dr_ynode *over)
{
    if (!over)
        return base;
    if (!base || base->kind != DR_Y_MAP || over->kind != DR_Y_MAP)
        return over;
    dr_ynode *m = arena_new(arena, DR_Y_MAP, over->file, over->line, over->col);
    m->pairs = dr_xcalloc(base->npairs + over->npairs, sizeof(*m->pairs));
    for (size_t i = 0; i < base->npairs; i++)
        m->pairs[m->npairs++] = base->pairs[i];
    for (size_t i = 0; i < over->npairs; i++) {
        const dr_ypair *o = &over->pairs[i];
        dr_ypair *slot = NULL;
        for (size_t j = 0; j < m->npairs; j++)
            if (strcmp(m->pairs[j].key->value, o->key->value) == 0)
                slot = &m->pairs[j];
        if (slot) {
            slot->value = dr_ymerge(arena, slot->value, o->value);
            slot->key = o->key; /* the override's key is where the value now comes from */
        } else {
            m->pairs[m->npairs++] = *o;
        }
    }
    return m;
}

int dr_yis_null(const dr_ynode *n)
{
    return n && n->kind == DR_Y_SCALAR && n->plain &&
           (n->value[0] == '\0' || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
            strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0);
}

int dr_yis_bool(const dr_ynode *n)
{
    return n && n->kind == DR_Y_SCALAR && n->plain &&
           (strcmp(n->value, "true") == 0 || strcmp(n->value, "false") == 0);
}

int dr_yis_int(const dr_ynode *n)
{
    if (!n || n->kind != DR_Y_SCALAR || !n->plain)
        return 0;
    const char *s = n->value;
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

char *dr_ydescribe(const dr_ynode *n)
{
    if (!n)
        return dr_xstrdup("nothing");
    switch (n->kind) {
    case DR_Y_MAP:
        return dr_xstrdup("a map");
    case DR_Y_SEQ:
        return dr_xstrdup("a list");
    case DR_Y_INVALID:
        return dr_xstrdup("an invalid value");
    case DR_Y_SCALAR:
        break;
    }
    if (dr_yis_null(n))
        return dr_xstrdup("an empty value");
    /* Long values are cut: the line and column say where the rest is. */
    size_t len = strlen(n->value);
    int shown = len > 40 ? 37 : (int)len;
    const char *ell = len > 40 ? "..." : "";
    if (!n->plain)
        return dr_xasprintf("the quoted string \"%.*s%s\"", shown, n->value, ell);
    return dr_xasprintf("'%.*s%s'", shown, n->value, ell);
}
