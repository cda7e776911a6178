/*
 * yaml_doc.h - a small YAML node tree that remembers where each node was.
 *
 * libyaml's own document API loses the distinction we need for precise
 * diagnostics (it resolves aliases into shared nodes, which can even form
 * cycles) and gives no place to hang "which file did this come from" once
 * two files are merged. So profiles are read with libyaml's event API into
 * this tree: scalars keep their text and whether they were plain (an
 * unquoted 42 is an integer, "42" is a string), every node keeps its file,
 * line and column (1-based), and maps keep their keys as nodes so that an
 * unknown key is reported where the key is written.
 *
 * Nodes live in an arena and are freed all at once: a merged tree borrows
 * nodes from both files' trees and owns only the maps it built.
 */
#ifndef DRCTL_STACK_YAML_DOC_H
#define DRCTL_STACK_YAML_DOC_H

#include <stddef.h>

#include "stack/profile.h"

typedef enum dr_ykind {
    DR_Y_SCALAR,
    DR_Y_SEQ,
    DR_Y_MAP,
    DR_Y_INVALID /* already reported (alias, unsupported tag): skip without further noise */
} dr_ykind;

typedef struct dr_ynode dr_ynode;

typedef struct dr_ypair {
    dr_ynode *key; /* always a scalar */
    dr_ynode *value;
} dr_ypair;

struct dr_ynode {
    dr_ykind kind;
    const char *file; /* borrowed from the dr_ydoc that read it */
    int line;         /* 1-based */
    int col;          /* 1-based */
    char *value;      /* scalar text, NUL-terminated */
    int plain; /* scalar written without quotes or tag: 42, true, ~ keep their YAML meaning */
    dr_ynode **items; /* sequence */
    size_t nitems;
    dr_ypair *pairs; /* map, in file order, duplicate keys already dropped */
    size_t npairs;
};

typedef struct dr_yarena {
    dr_ynode **nodes;
    size_t n;
    size_t cap;
} dr_yarena;

typedef struct dr_ydoc {
    char *file;     /* the path as given, e.g. "regions/us-east-1.yaml" */
    dr_ynode *root; /* NULL for an empty file */
    dr_yarena arena;
} dr_ydoc;

/* Biggest profile file read; a profile is a page of settings, not data. */
#define DR_YDOC_MAX_BYTES (1024 * 1024)

/*
 * Reads one YAML file. Problems go to diags with file, line and column:
 * unreadable file, syntax error (libyaml's problem and mark), more than one
 * document, aliases, unsupported tags, non-scalar keys, duplicate keys.
 * Returns 0 with *out set when a tree could be built (even if some of those
 * problems were reported: the offending nodes are DR_Y_INVALID or dropped);
 * -1 with *out NULL when the file could not be read or parsed at all.
 */
int dr_ydoc_load(const char *file, dr_ydoc **out, dr_diags *diags);
void dr_ydoc_free(dr_ydoc *doc);

void dr_yarena_free(dr_yarena *a);

/* base with over laid on top: maps merge key by key (recursively), anything
 * else in over replaces base. Either may be NULL. New map nodes are
 * allocated in arena and take over's place (file, line, column); all other
 * nodes are borrowed. */
dr_ynode *dr_ymerge(dr_yarena *arena, dr_ynode *base, dr_ynode *over);

/* The value under key in a map node, or NULL (also when map is not a map). */
dr_ynode *dr_ymap_get(const dr_ynode *map, const char *key);
/* The pair under key, or NULL. */
const dr_ypair *dr_ymap_pair(const dr_ynode *map, const char *key);

/* Scalar classification, YAML 1.2 core schema restricted as profiles want:
 * null is a plain empty value, ~ or null; booleans are plain true/false
 * only; integers are plain decimal [-+]?[0-9]+. */
int dr_yis_null(const dr_ynode *n);
int dr_yis_bool(const dr_ynode *n);
int dr_yis_int(const dr_ynode *n);

/* "a map", "a list", "an empty value", "the quoted string \"42\"", "'abc'":
 * how a node is named in "expected X, got Y". Caller frees. */
char *dr_ydescribe(const dr_ynode *n);

#endif
