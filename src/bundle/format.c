/*
 * format.c - the small pieces of the bundle format that the writer and the
 * reader must agree on byte for byte: integers, hex and base64, hashes and
 * key derivation, times, the path rules and the footer.
 */
#include "bundle/bundle_int.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/mem.h"

void dr_bk_put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

void dr_bk_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint32_t dr_bk_get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t dr_bk_get_be64(const unsigned char *p)
{
    return ((uint64_t)dr_bk_get_be32(p) << 32) | dr_bk_get_be32(p + 4);
}

void dr_bk_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is not canonical: refuse it */
}

int dr_bk_unhex(const char *hex, unsigned char *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

char *dr_bk_b64(const unsigned char *p, size_t n)
{
    char *s = dr_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    return s;
}

int dr_bk_unb64(const char *s, unsigned char **out, size_t *n)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len % 4 != 0 || len > (1u << 20))
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/' || (c == '=' && i >= len - 2);
        if (!ok || (i == len - 2 && c == '=' && s[len - 1] != '='))
            return -1;
    }
    unsigned char *buf = dr_xmalloc(len / 4 * 3 + 1);
    int got = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
    if (got < 0) {
        free(buf);
        return -1;
    }
    /* EVP_DecodeBlock counts padding as zero bytes. */
    size_t pad = (s[len - 1] == '=') + (s[len - 2] == '=');
    *out = buf;
    *n = (size_t)got - pad;
    return 0;
}

void dr_bk_sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL)) {
        fprintf(stderr, "drctl: error: SHA-256 failed\n");
        abort();
    }
}

void dr_bk_hmac(const unsigned char key[32], const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    if (!HMAC(EVP_sha256(), key, 32, p, n, out, &len)) {
        fprintf(stderr, "drctl: error: HMAC-SHA256 failed\n");
        abort();
    }
}

int dr_bk_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void dr_bk_hkdf(const unsigned char key[32], const unsigned char *salt, size_t salt_len,
                const char *info, unsigned char out[32])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, 32);
    /* An empty salt means "HashLen zeros" in RFC 5869; OpenSSL does the same
     * when the parameter is absent. */
    if (salt_len)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
    *p = OSSL_PARAM_construct_end();
    int ok = kctx && EVP_KDF_derive(kctx, out, 32, params) == 1;
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    if (!ok) {
        /* Only a broken OpenSSL installation gets here. */
        fprintf(stderr, "drctl: error: HKDF-SHA256 is not available in this OpenSSL\n");
        abort();
    }
}

const char *dr_bk_ossl_err(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (!e) {
        snprintf(buf, cap, "unknown OpenSSL error");
        return buf;
    }
    ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

void dr_bk_time_format(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int dr_bk_time_parse(const char *s, int64_t *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (!end || *end)
        return -1;
    *t = (int64_t)timegm(&tm);
    return 0;
}

/* Valid UTF-8 (no overlong forms, no surrogates, <= U+10FFFF); returns the
 * sequence length at p or 0. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned min, cp;
    if ((c & 0xe0) == 0xc0) {
        n = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int dr_bk_path_check(const char *path, char *why, size_t cap)
{
    static const char *const tops[] = {"config", "db", "s3", "secrets"};
    size_t len = path ? strlen(path) : 0;
    if (len == 0)
        return snprintf(why, cap, "empty path"), -1;
    if (len > 4096)
        return snprintf(why, cap, "longer than 4096 bytes"), -1;
    if (path[0] == '/')
        return snprintf(why, cap, "absolute path"), -1;
    const unsigned char *p = (const unsigned char *)path;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return snprintf(why, cap, "control character at byte %zu", i), -1;
        if (p[i] == '\\')
            return snprintf(why, cap, "backslash at byte %zu", i), -1;
        size_t n = utf8_seq(p + i);
        if (n == 0)
            return snprintf(why, cap, "invalid UTF-8 at byte %zu", i), -1;
        i += n;
    }
    size_t ncomp = 0;
    const char *c = path;
    while (1) {
        const char *slash = strchr(c, '/');
        size_t clen = slash ? (size_t)(slash - c) : strlen(c);
        if (clen == 0)
            return snprintf(why, cap, "empty path component"), -1;
        if ((clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
            return snprintf(why, cap, "'%.*s' component", (int)clen, c), -1;
        if (clen > 255)
            return snprintf(why, cap, "component longer than 255 bytes"), -1;
        if (ncomp == 0) {
            int ok = 0;
            for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++)
                ok |= strlen(tops[i]) == clen && memcmp(tops[i], c, clen) == 0;
            if (!ok)
                return snprintf(why, cap, "not under config/, db/, s3/ or secrets/"), -1;
        }
        ncomp++;
        if (!slash)
            break;
        c = slash + 1;
    }
    if (ncomp < 2)
        return snprintf(why, cap, "a top-level name, not a file under it"), -1;
    return 0;
}

/* ---- string set ---------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static size_t slot(char **keys, size_t cap, const char *key)
{
    size_t i = (size_t)(fnv1a(key) & (cap - 1));
    while (keys[i] && strcmp(keys[i], key) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

int dr_strset_has(const dr_strset *s, const char *key)
{
    return s->cap && s->keys[slot(s->keys, s->cap, key)] != NULL;
}

int dr_strset_add(dr_strset *s, const char *key)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **keys = dr_xcalloc(cap, sizeof(char *));
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i])
                keys[slot(keys, cap, s->keys[i])] = s->keys[i];
        free(s->keys);
        s->keys = keys;
        s->cap = cap;
    }
    size_t i = slot(s->keys, s->cap, key);
    if (s->keys[i])
        return 0;
    s->keys[i] = dr_xstrdup(key);
    s->n++;
    return 1;
}

void dr_strset_free(dr_strset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
    s->keys = NULL;
    s->n = s->cap = 0;
}

int dr_bk_tree_add(dr_strset *files, dr_strset *dirs, const char *path, char *why, size_t cap)
{
    if (dr_strset_has(dirs, path))
        return snprintf(why, cap, "a directory of another entry has that name"), -1;
    /* Every parent must not be a file. */
    char *tmp = dr_xstrdup(path);
    for (char *s = strchr(tmp, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (dr_strset_has(files, tmp)) {
            snprintf(why, cap, "its parent '%s' is a file entry", tmp);
            free(tmp);
            return -1;
        }
        *s = '/';
    }
    if (!dr_strset_add(files, path)) {
        free(tmp);
        return snprintf(why, cap, "duplicate entry"), -1;
    }
    for (char *s = strchr(tmp, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        dr_strset_add(dirs, tmp);
        *s = '/';
    }
    free(tmp);
    return 0;
}

int dr_bundle_part_name(const char *path, char *stream, size_t cap, unsigned *part)
{
    static const char mark[] = ".part-";
    size_t len = strlen(path), ml = sizeof(mark) - 1;
    if (len < ml + 6 + 1)
        return 0;
    const char *d = path + len - 6;
    if (memcmp(d - ml, mark, ml) != 0)
        return 0;
    unsigned n = 0;
    for (int i = 0; i < 6; i++) {
        if (d[i] < '0' || d[i] > '9')
            return 0;
        n = n * 10 + (unsigned)(d[i] - '0');
    }
    if (n == 0)
        return 0;
    size_t slen = len - 6 - ml;
    if (stream) {
        if (slen + 1 > cap)
            return 0;
        memcpy(stream, path, slen);
        stream[slen] = '\0';
    }
    if (part)
        *part = n;
    return 1;
}

/* ---- footer -------------------------------------------------------------- */

/*
 *   0  4  zstd skippable frame magic 0x184D2A5D, little-endian
 *   4  4  frame data size (F - 8), little-endian
 *   8  8  "DRCTLFTR"
 *  16  4  footer version (1)
 *  20  4  chunk size
 *  24  8  tail frame offset
 *  32  8  stream length (= offset of this footer)
 *  40  8  n chunks
 *  48 32n chunk SHA-256s
 *  .. 32  HMAC-SHA256(manifest key, bytes 0 ..)
 *  .. 32  SHA-256(bytes 0 .. end of HMAC)
 *  ..  4  F, the footer's total length
 *  ..  8  "DRCTLEND"
 * (integers big-endian unless marked; docs/bundle-format.md "Footer").
 */
unsigned char *dr_footer_encode(const dr_footer *f, const unsigned char k_man[32], size_t *len)
{
    size_t n = DR_FOOTER_FIXED + 32 * (size_t)f->n_chunks;
    unsigned char *p = dr_xmalloc(n);
    uint32_t d = (uint32_t)(n - 8);
    uint32_t m = DR_FOOTER_SKIPPABLE_MAGIC;
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(m >> (8 * i));
        p[4 + i] = (unsigned char)(d >> (8 * i));
    }
    memcpy(p + 8, DR_FOOTER_MAGIC, 8);
    dr_bk_put_be32(p + 16, 1);
    dr_bk_put_be32(p + 20, f->chunk_size);
    dr_bk_put_be64(p + 24, f->tail_offset);
    dr_bk_put_be64(p + 32, f->stream_len);
    dr_bk_put_be64(p + 40, f->n_chunks);
    size_t o = 48;
    if (f->n_chunks)
        memcpy(p + o, f->hashes, 32 * (size_t)f->n_chunks);
    o += 32 * (size_t)f->n_chunks;
    dr_bk_hmac(k_man, p, o, p + o);
    dr_bk_sha256(p, o + 32, p + o + 32);
    dr_bk_put_be32(p + o + 64, (uint32_t)n);
    memcpy(p + o + 68, DR_FOOTER_END, 8);
    *len = n;
    return p;
}

uint32_t dr_footer_len_from_tail(const unsigned char tail[12])
{
    if (memcmp(tail + 4, DR_FOOTER_END, 8) != 0)
        return 0;
    uint32_t n = dr_bk_get_be32(tail);
    if (n < DR_FOOTER_FIXED || (n - DR_FOOTER_FIXED) % 32 != 0)
        return 0;
    return n;
}

int dr_footer_decode(const unsigned char *p, size_t n, dr_footer *f, dr_err *err)
{
    if (n < DR_FOOTER_FIXED || (n - DR_FOOTER_FIXED) % 32 != 0)
        return dr_err_set(err, DR_E_VERIFY, "footer: bad length %zu", n);
    size_t nh = (n - DR_FOOTER_FIXED) / 32, o = 48 + 32 * nh;
    unsigned char sum[32];
    dr_bk_sha256(p, o + 32, sum);
    if (!dr_bk_equal(sum, p + o + 32, 32))
        return dr_err_set(err, DR_E_VERIFY,
                          "footer: checksum mismatch (the last %zu bytes of the bundle are "
                          "damaged)",
                          n);
    uint32_t m = 0, d = 0;
    for (int i = 0; i < 4; i++) {
        m |= (uint32_t)p[i] << (8 * i);
        d |= (uint32_t)p[4 + i] << (8 * i);
    }
    if (m != DR_FOOTER_SKIPPABLE_MAGIC || d != n - 8 || memcmp(p + 8, DR_FOOTER_MAGIC, 8) != 0 ||
        dr_bk_get_be32(p + 16) != 1 || dr_bk_get_be32(p + o + 64) != n)
        return dr_err_set(err, DR_E_VERIFY, "footer: unknown layout or version");
    f->chunk_size = dr_bk_get_be32(p + 20);
    f->tail_offset = dr_bk_get_be64(p + 24);
    f->stream_len = dr_bk_get_be64(p + 32);
    f->n_chunks = dr_bk_get_be64(p + 40);
    if (f->chunk_size != DR_BUNDLE_SEGMENT_SIZE || f->n_chunks != nh ||
        f->tail_offset >= f->stream_len)
        return dr_err_set(err, DR_E_VERIFY, "footer: inconsistent fields");
    f->hashes = (unsigned char *)p + 48;
    memcpy(f->mac, p + o, 32);
    return 0;
}

int dr_footer_mac_ok(const unsigned char *p, size_t n, const unsigned char k_man[32])
{
    size_t o = n - DR_FOOTER_FIXED + 48;
    unsigned char mac[32];
    dr_bk_hmac(k_man, p, o, mac);
    return dr_bk_equal(mac, p + o, 32);
}
