/*
 * xml.h - reading AWS XML responses with libxml2.
 *
 * AWS documents carry namespaces that vary by service and version; these
 * helpers match element local names only. A path is a '/'-separated list of
 * local names below the given node, e.g. "GetCallerIdentityResult/Account".
 */
#ifndef DRCTL_AWS_XML_H
#define DRCTL_AWS_XML_H

#include <libxml/tree.h>
#include <stddef.h>

/* Parses a buffer; NULL if it is not well-formed XML. Network access and
 * entity expansion are disabled. */
xmlDocPtr dr_xml_parse(const char *data, size_t len);

/* First element matching path below node (node itself is not matched). */
xmlNodePtr dr_xml_find(xmlNodePtr node, const char *path);

/* Text content of the first element matching path; caller frees; NULL if
 * absent. */
char *dr_xml_text(xmlNodePtr node, const char *path);

/* Next sibling element with the same local name, for iterating lists:
 *   for (n = dr_xml_find(root, "Buckets/Bucket"); n; n = dr_xml_next_same(n)) */
xmlNodePtr dr_xml_next_same(xmlNodePtr node);

/* Added: first descendant element (document order, any depth) with this
 * local name, e.g. "RequestId" wherever a service put it; NULL if none. */
xmlNodePtr dr_xml_find_any(xmlNodePtr node, const char *name);

/* Local name of the document's root element, "" if none. */
const char *dr_xml_root_name(xmlDocPtr doc);

#endif
