/*
 * xml.c - reading AWS XML responses with libxml2 (see xml.h).
 *
 * Responses come from the network, so the parser is locked down: no network
 * access (XML_PARSE_NONET), no DTD loading or validation, and entities are
 * NOT substituted (XML_PARSE_NOENT is deliberately absent: substituting them
 * is what makes XXE and "billion laughs" possible). libxml2's default error
 * handler prints to stderr; NOERROR/NOWARNING keep it quiet, because a bad
 * document is reported by the caller as a dr_err.
 */
#include "aws/xml.h"

#include <libxml/parser.h>
#include <limits.h>
#include <string.h>

#include "util/mem.h"

xmlDocPtr dr_xml_parse(const char *data, size_t len)
{
    if (!data || len == 0 || len > INT_MAX)
        return NULL;
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDocPtr doc = xmlReadMemory(data, (int)len, NULL, NULL, opts);
    if (!doc)
        return NULL;
    if (!xmlDocGetRootElement(doc)) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static int name_is(xmlNodePtr n, const char *name, size_t len)
{
    if (!n || n->type != XML_ELEMENT_NODE || !n->name)
        return 0;
    const char *nn = (const char *)n->name;
    return strlen(nn) == len && memcmp(nn, name, len) == 0;
}

xmlNodePtr dr_xml_find(xmlNodePtr node, const char *path)
{
    if (!node || !path)
        return NULL;
    xmlNodePtr cur = node;
    const char *p = path;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t seg = slash ? (size_t)(slash - p) : strlen(p);
        if (seg == 0) { /* tolerate "a//b" and a trailing '/' */
            p += 1;
            continue;
        }
        xmlNodePtr child = NULL;
        for (xmlNodePtr c = cur->children; c; c = c->next) {
            if (name_is(c, p, seg)) {
                child = c;
                break;
            }
        }
        if (!child)
            return NULL;
        cur = child;
        p += seg;
        if (*p == '/')
            p++;
    }
    return cur == node ? NULL : cur;
}

char *dr_xml_text(xmlNodePtr node, const char *path)
{
    xmlNodePtr n = dr_xml_find(node, path);
    if (!n)
        return NULL;
    xmlChar *c = xmlNodeGetContent(n);
    char *s = dr_xstrdup(c ? (const char *)c : "");
    xmlFree(c);
    return s;
}

xmlNodePtr dr_xml_next_same(xmlNodePtr node)
{
    if (!node || !node->name)
        return NULL;
    const char *name = (const char *)node->name;
    size_t len = strlen(name);
    for (xmlNodePtr n = node->next; n; n = n->next)
        if (name_is(n, name, len))
            return n;
    return NULL;
}

const char *dr_xml_root_name(xmlDocPtr doc)
{
    xmlNodePtr r = doc ? xmlDocGetRootElement(doc) : NULL;
    return r && r->name ? (const char *)r->name : "";
}

xmlNodePtr dr_xml_find_any(xmlNodePtr node, const char *name)
{
    if (!node || !name)
        return NULL;
    size_t len = strlen(name);
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (name_is(c, name, len))
            return c;
        xmlNodePtr d = dr_xml_find_any(c, name);
        if (d)
            return d;
    }
    return NULL;
}
