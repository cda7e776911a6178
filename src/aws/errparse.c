/*
 * errparse.c - AWS error responses of every shape into one dr_aws_error.
 *
 * The body is sniffed, not trusted to match the protocol: moto answers auth
 * failures of JSON services with XML, unimplemented paths with an HTML 500
 * page, and HEAD errors with no body at all; a proxy in between can answer
 * with anything. So: '{' -> JSON, '<' -> XML (or, if it is not well-formed
 * or is an HTML page, visible text), anything else -> its first line.
 * Headers fill what the body does not. Never fails.
 */
#include "aws/errparse.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/xml.h"
#include "util/buf.h"
#include "util/mem.h"

/* Copies src[0..len) into dst as one line: leading/trailing whitespace cut,
 * every run of whitespace (newlines included) made one space, truncated to
 * fit without splitting a UTF-8 sequence. */
static void copy_line(char *dst, size_t size, const char *src, size_t len)
{
    size_t o = 0;
    int pending_space = 0;
    if (size == 0)
        return;
    for (size_t i = 0; i < len && src[i]; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (isspace(ch)) {
            pending_space = o > 0;
            continue;
        }
        if (pending_space) {
            if (o + 1 >= size)
                break;
            dst[o++] = ' ';
            pending_space = 0;
        }
        if (o + 1 >= size)
            break;
        dst[o++] = (char)ch;
    }
    /* Do not leave half a UTF-8 character at a truncation point. */
    if (o + 1 >= size) {
        size_t k = o;
        while (k > 0 && ((unsigned char)dst[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)dst[k - 1] & 0x80)) {
            unsigned char lead = (unsigned char)dst[k - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (o - (k - 1) < need)
                o = k - 1;
        }
    }
    dst[o] = '\0';
}

static void copy_str(char *dst, size_t size, const char *src)
{
    copy_line(dst, size, src ? src : "", src ? strlen(src) : 0);
}

/* "com.amazonaws.kms#NotFoundException" and
 * "ValidationException:http://internal.amazon.com/..." both mean the short
 * name in the middle. */
static void copy_error_type(char *dst, size_t size, const char *t)
{
    if (!t)
        return;
    size_t n = strcspn(t, ":;");
    for (size_t i = n; i > 0; i--) {
        if (t[i - 1] == '#') {
            copy_line(dst, size, t + i, n - i);
            return;
        }
    }
    copy_line(dst, size, t, n);
}

static const char *reason_phrase(long status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return NULL;
    }
}

static void parse_json(const char *body, size_t len, dr_aws_error *out)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!root)
        return;
    if (json_is_object(root)) {
        const char *type = json_string_value(json_object_get(root, "__type"));
        if (!type)
            type = json_string_value(json_object_get(root, "code"));
        if (!type)
            type = json_string_value(json_object_get(root, "Code"));
        if (type)
            copy_error_type(out->code, sizeof(out->code), type);
        static const char *const msg_keys[] = {"message", "Message", "errorMessage", NULL};
        for (size_t i = 0; msg_keys[i]; i++) {
            const char *m = json_string_value(json_object_get(root, msg_keys[i]));
            if (m && *m) {
                copy_str(out->message, sizeof(out->message), m);
                break;
            }
        }
    }
    json_decref(root);
}

static void xml_copy_text(xmlNodePtr n, char *dst, size_t size)
{
    xmlChar *c = xmlNodeGetContent(n);
    if (c)
        copy_str(dst, size, (const char *)c);
    xmlFree(c);
}

/* Returns 1 if the document looked like an AWS error (or at least XML). */
static int parse_xml(const char *body, size_t len, dr_aws_error *out)
{
    xmlDocPtr doc = dr_xml_parse(body, len);
    if (!doc)
        return 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (strcasecmp(dr_xml_root_name(doc), "html") == 0) {
        xmlFreeDoc(doc);
        return 0; /* well-formed XHTML: read it as a page */
    }
    /* <Error> is the root (S3), or below ErrorResponse (query, rest-xml) or
     * Response/Errors (EC2) or ErrorResponse/Errors (moto's auth errors). */
    xmlNodePtr err =
        strcmp(dr_xml_root_name(doc), "Error") == 0 ? root : dr_xml_find_any(root, "Error");
    xmlNodePtr scope = err ? err : root;
    xmlNodePtr n = dr_xml_find(scope, "Code");
    if (!n)
        n = dr_xml_find_any(root, "Code");
    if (n)
        xml_copy_text(n, out->code, sizeof(out->code));
    n = dr_xml_find(scope, "Message");
    if (!n)
        n = dr_xml_find(scope, "message");
    if (n)
        xml_copy_text(n, out->message, sizeof(out->message));
    if (!out->request_id[0]) {
        n = dr_xml_find_any(root, "RequestId");
        if (!n)
            n = dr_xml_find_any(root, "RequestID");
        if (!n)
            n = dr_xml_find_any(root, "requestId");
        if (n)
            xml_copy_text(n, out->request_id, sizeof(out->request_id));
    }
    xmlFreeDoc(doc);
    return 1;
}

static int starts_ci(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && strncasecmp(p, word, n) == 0;
}

/* Visible text of a markup page (HTML or broken XML), first non-blank line:
 * tags dropped, <script>/<style> contents dropped, the common entities
 * decoded. A tag ends a line, so "<title>500 ...</title><h1>..." gives the
 * title alone. */
static void markup_first_line(const char *body, size_t len, char *dst, size_t size)
{
    dr_buf line = DR_BUF_INIT;
    const char *p = body, *end = body + len;
    while (p < end) {
        if (*p == '<') {
            const char *skip_to = NULL;
            if (starts_ci(p, end, "<script"))
                skip_to = "</script";
            else if (starts_ci(p, end, "<style"))
                skip_to = "</style";
            if (skip_to) {
                while (p < end && !starts_ci(p, end, skip_to))
                    p++;
            }
            while (p < end && *p != '>')
                p++;
            if (p < end)
                p++;
            /* a tag is a line break; stop at the first line with text */
            for (size_t i = 0; i < line.len; i++) {
                if (!isspace((unsigned char)line.data[i]))
                    goto done;
            }
            dr_buf_reset(&line);
            continue;
        }
        if (*p == '\n') {
            for (size_t i = 0; i < line.len; i++)
                if (!isspace((unsigned char)line.data[i]))
                    goto done;
            dr_buf_reset(&line);
            p++;
            continue;
        }
        if (*p == '&') {
            static const struct {
                const char *ent;
                char ch;
            } ents[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
                        {"&quot;", '"'}, {"&#39;", '\''}, {"&nbsp;", ' '}};
            int matched = 0;
            for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
                if (starts_ci(p, end, ents[i].ent)) {
                    dr_buf_putc(&line, ents[i].ch);
                    p += strlen(ents[i].ent);
                    matched = 1;
                    break;
                }
            }
            if (matched)
                continue;
        }
        dr_buf_putc(&line, *p);
        p++;
    }
done:
    copy_line(dst, size, dr_buf_cstr(&line), line.len);
    dr_buf_free(&line);
}

static void text_first_line(const char *body, size_t len, char *dst, size_t size)
{
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        for (const char *q = p; q < le; q++) {
            if (!isspace((unsigned char)*q)) {
                copy_line(dst, size, p, (size_t)(le - p));
                return;
            }
        }
        p = nl ? nl + 1 : end;
    }
}

static const char *header(const dr_kvlist *h, const char *name)
{
    const char *v = h ? dr_kv_get(h, name) : NULL;
    return v && *v ? v : NULL;
}

void dr_aws_parse_error(long http_status, const dr_kvlist *headers, const char *body, size_t len,
                        dr_aws_error *out)
{
    out->http_status = http_status;
    out->code[0] = '\0';
    out->message[0] = '\0';
    out->request_id[0] = '\0';

    const char *rid = header(headers, "x-amzn-RequestId");
    if (!rid)
        rid = header(headers, "x-amz-request-id");
    if (!rid)
        rid = header(headers, "x-amzn-request-id");
    if (rid)
        copy_str(out->request_id, sizeof(out->request_id), rid);

    if (!body)
        len = 0;
    const char *p = body, *end = body + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte order mark */
        p += 3;
    while (p < end && isspace((unsigned char)*p))
        p++;
    size_t rest = (size_t)(end - p);

    if (rest > 0 && *p == '{') {
        parse_json(p, rest, out);
        if (!out->code[0] && !out->message[0])
            text_first_line(p, rest, out->message, sizeof(out->message));
    } else if (rest > 0 && *p == '<') {
        int is_html = starts_ci(p, end, "<!doctype html") || starts_ci(p, end, "<html");
        if (is_html || !parse_xml(p, rest, out))
            markup_first_line(p, rest, out->message, sizeof(out->message));
    } else if (rest > 0) {
        text_first_line(p, rest, out->message, sizeof(out->message));
    }

    /* Query-compatible JSON services name the query-protocol code here;
     * botocore prefers it. */
    const char *qerr = header(headers, "x-amzn-query-error");
    if (qerr)
        copy_error_type(out->code, sizeof(out->code), qerr);
    if (!out->code[0]) {
        const char *type = header(headers, "x-amzn-ErrorType");
        if (type)
            copy_error_type(out->code, sizeof(out->code), type);
    }
    if (!out->code[0]) {
        if (http_status >= 500)
            snprintf(out->code, sizeof(out->code), "InternalError");
        else
            snprintf(out->code, sizeof(out->code), "HttpError%ld", http_status);
    }
    if (!out->message[0]) {
        const char *r = reason_phrase(http_status);
        if (r)
            snprintf(out->message, sizeof(out->message), "%s", r);
        else
            snprintf(out->message, sizeof(out->message), "HTTP status %ld", http_status);
    }
}
