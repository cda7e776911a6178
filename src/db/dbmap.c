#include "db/dbmap.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "aws/service.h"
#include "util/buf.h"
#include "util/mem.h"

int dr_dbmap_from_env(dr_dbmap *m, dr_err *err)
{
    const char *spec = getenv("DRCTL_DB_MAP");
    m->entries = NULL;
    m->n = 0;
    if (!spec || !*spec)
        return 0;
    if (dr_dbmap_parse(m, spec, err) != 0)
        return dr_err_wrap(err, "DRCTL_DB_MAP");
    return 0;
}

int dr_dbmap_parse(dr_dbmap *m, const char *spec, dr_err *err)
{
    m->entries = NULL;
    m->n = 0;
    char *copy = dr_xstrdup(spec);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1] || (size_t)(eq - tok) >= sizeof(m->entries->region)) {
            /* Show only the part before '=': the rest may hold a password. */
            size_t shown = eq ? (size_t)(eq - tok) : strlen(tok);
            dr_err_set(err, DR_E_CONFIG,
                       "malformed element '%.*s...' (expected REGION=postgresql://...)",
                       (int)(shown > 40 ? 40 : shown), tok);
            free(copy);
            dr_dbmap_free(m);
            return -1;
        }
        *eq = '\0';
        if (!dr_region_known(tok)) {
            dr_err_set(err, DR_E_CONFIG, "unknown region '%s'", tok);
            free(copy);
            dr_dbmap_free(m);
            return -1;
        }
        m->entries = dr_xrealloc(m->entries, (m->n + 1) * sizeof(*m->entries));
        dr_dbmap_entry *e = &m->entries[m->n++];
        snprintf(e->region, sizeof(e->region), "%s", tok);
        e->conninfo = dr_xstrdup(eq + 1);
    }
    dr_secure_zero(copy, strlen(spec));
    free(copy);
    return 0;
}

void dr_dbmap_free(dr_dbmap *m)
{
    for (size_t i = 0; i < m->n; i++)
        dr_free_secret(m->entries[i].conninfo);
    free(m->entries);
    m->entries = NULL;
    m->n = 0;
}

const char *dr_dbmap_lookup(const dr_dbmap *m, const char *region)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->entries[i].region, region) == 0)
            return m->entries[i].conninfo;
    return NULL;
}

char *dr_dbmap_describe(const char *conninfo)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    if (!opts) {
        PQfreemem(errmsg);
        return dr_xstrdup("(unparseable connection string)");
    }
    const char *host = "localhost", *port = "5432", *db = NULL, *user = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0 || (strcmp(o->keyword, "hostaddr") == 0))
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            user = o->val;
    }
    char *s = dr_xasprintf("%s:%s/%s%s%s", host, port, db ? db : "(default)", user ? " as " : "",
                           user ? user : "");
    PQconninfoFree(opts);
    return s;
}
