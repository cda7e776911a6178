/*
 * ini.h - the AWS shared config and credentials file format (internal to
 * src/aws), parsed with libinih.
 *
 * The dialect is botocore's (Python configparser in raw mode):
 *   - `[section]` headers; `key = value` or `key: value`; keys are compared
 *     case-insensitively (configparser lower-cases them), sections are not;
 *   - `#` and `;` start a comment only at the start of a line: a `;` inside
 *     a value is part of the value (there are no inline comments);
 *   - an indented line after a key continues it: if the key's own value was
 *     empty, the indented lines are a nested block of `name = value`
 *     settings (`s3 =\n  endpoint_url = ...`), otherwise they are appended
 *     to the value with "\n" as configparser does;
 *   - a key before any section header is an error, as in configparser.
 * Section names are normalised: trimmed, and in a two-word header such as
 * `[profile  "my name" ]` the second part is trimmed and unquoted, giving
 * "profile my name" (botocore splits these headers with shlex).
 *
 * Errors name the file and line, never the line's text (it may hold a
 * secret). Values are zeroed when freed, since credentials files hold keys.
 */
#ifndef DRCTL_AWS_INI_H
#define DRCTL_AWS_INI_H

#include <stddef.h>

#include "util/err.h"

typedef struct dr_ini_entry {
    char *section; /* normalised section name */
    char *parent;  /* NULL, or the key of the nested block this entry is in */
    char *key;
    char *value; /* secret-safe: zeroed on free */
    int line;    /* 1-based line of the key */
} dr_ini_entry;

typedef struct dr_ini {
    char *path;
    dr_ini_entry *entries; /* in file order */
    size_t n, cap;
    char **sections; /* every section header seen, in order, even empty ones */
    size_t nsections, capsections;
} dr_ini;

/*
 * Reads and parses `path`. Returns 0 with *out set, or 0 with *out NULL when
 * the file does not exist; -1 with DR_E_CONFIG for a malformed or unreadable
 * file ("PATH:LINE: ...").
 */
int dr_ini_load(const char *path, dr_ini **out, dr_err *err);

/* Parses an in-memory document; `path` is used in messages only. */
int dr_ini_parse_buffer(const char *path, const char *data, size_t len, dr_ini **out, dr_err *err);

void dr_ini_free(dr_ini *ini);

/* 1 if a header named `section` (normalised) appears in the file. */
int dr_ini_has_section(const dr_ini *ini, const char *section);

/* The last value of top-level `key` in `section`; NULL if absent. */
const char *dr_ini_get(const dr_ini *ini, const char *section, const char *key);

/* The last value of `key` in the nested block `parent` of `section`. */
const char *dr_ini_get_nested(const dr_ini *ini, const char *section, const char *parent,
                              const char *key);

#endif
