/*
 * handlers.c - the registry of resource handlers: which code creates,
 * reads, updates and deletes each CloudFormation type.
 *
 * Each family file (src/stack/res_<family>.c) defines one table,
 * `const dr_handler dr_handlers_<family>[]`, terminated by {NULL}; this file
 * only lists the six tables. The references are strong on purpose: drctl is
 * linked from a static library, and a linker does not pull an archive
 * member in to satisfy a weak reference, so weak declarations would leave
 * the tables silently empty in the binary even with the family files
 * present. A family with no handlers yet has a placeholder file with an
 * empty table; a missing family file is a link error, not an empty table.
 *
 * No mutable state: tests put their own table in dr_engine_opts.handlers
 * instead of patching this registry.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "stack/handler.h"

extern const dr_handler dr_handlers_network[];
extern const dr_handler dr_handlers_compute[];
extern const dr_handler dr_handlers_data[];
extern const dr_handler dr_handlers_security[];
extern const dr_handler dr_handlers_monitoring[];
extern const dr_handler dr_handlers_edge[];

static const dr_handler *const families[] = {
    dr_handlers_network,  dr_handlers_compute,    dr_handlers_data,
    dr_handlers_security, dr_handlers_monitoring, dr_handlers_edge,
};

const dr_handler *dr_handler_find_in(const dr_handler *table, const char *type)
{
    for (const dr_handler *h = table; h && h->type; h++)
        if (strcmp(h->type, type) == 0)
            return h;
    return NULL;
}

const dr_handler *dr_handler_find(const char *type)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        const dr_handler *h = dr_handler_find_in(families[i], type);
        if (h)
            return h;
    }
    return NULL;
}

void dr_live_free(dr_live *l)
{
    if (!l)
        return;
    free(l->physical_id);
    json_decref(l->attributes);
    json_decref(l->properties);
    l->physical_id = NULL;
    l->attributes = NULL;
    l->properties = NULL;
}
