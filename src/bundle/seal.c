/*
 * seal.c - the sealed container: a header and AES-256-GCM segments.
 *
 *   "DRCTLENC" | u32 version=1 | u32 L | header JSON (L bytes) | HMAC (32)
 *   segment 0 | segment 1 | ... | final segment
 *
 * Each segment is 1 MiB of plaintext (the final one 0..1 MiB) followed by its
 * 16-byte tag. Per container: K_seg = HKDF(bundle key, salt, "segment key")
 * and K_hdr = HKDF(bundle key, salt, "header mac") with a random 32-byte
 * salt, so one bundle key can seal several containers (the bundle and its
 * secrets entry) without ever reusing a key and nonce pair. Nonce =
 * nonce_prefix (4) | u64 segment index; AAD = SHA-256(header) | u64 index |
 * u8 final. The index in the AAD catches reordering, the final flag
 * truncation at a segment boundary and appended data, the header hash any
 * change to the header (the HMAC says so by name, before any segment).
 */
#include "bundle/bundle_int.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static void nonce_aad(const unsigned char prefix[4], const unsigned char hhash[32], uint64_t i,
                      int final, unsigned char nonce[12], unsigned char aad[41])
{
    memcpy(nonce, prefix, 4);
    dr_bk_put_be64(nonce + 4, i);
    memcpy(aad, hhash, 32);
    dr_bk_put_be64(aad + 32, i);
    aad[40] = final ? 1 : 0;
}

int dr_seal_w_init(dr_seal_w *s, const unsigned char key[32], const char *content,
                   const char *stack, uint64_t version, const json_t *wraps, dr_sink_fn sink,
                   void *ud, dr_err *err)
{
    memset(s, 0, sizeof(*s));
    unsigned char salt[DR_SEAL_SALT_LEN], khdr[32];
    if (RAND_bytes(salt, sizeof(salt)) != 1 || RAND_bytes(s->prefix, sizeof(s->prefix)) != 1)
        return dr_err_set(err, DR_E_INTERNAL, "RAND_bytes failed");
    dr_bk_hkdf(key, salt, sizeof(salt), DR_BK_INFO_SEGMENT, s->kseg);
    dr_bk_hkdf(key, salt, sizeof(salt), DR_BK_INFO_HEADER, khdr);
    char salt_hex[2 * DR_SEAL_SALT_LEN + 1], prefix_hex[2 * DR_SEAL_PREFIX_LEN + 1];
    dr_bk_hex(salt, sizeof(salt), salt_hex);
    dr_bk_hex(s->prefix, sizeof(s->prefix), prefix_hex);
    json_t *h =
        json_pack("{s:i, s:s, s:s, s:i, s:s, s:s, s:s, s:I, s:O}", "format", 1, "content", content,
                  "cipher", "AES-256-GCM", "segment_size", (int)DR_BUNDLE_SEGMENT_SIZE, "salt",
                  salt_hex, "nonce_prefix", prefix_hex, "stack", stack, "bundle_version",
                  (json_int_t)version, "key_wraps", (json_t *)wraps);
    char *js = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    size_t l = strlen(js);
    size_t hl = DR_SEAL_FIXED + l + 32;
    unsigned char *hdr = dr_xmalloc(hl);
    memcpy(hdr, DR_SEAL_MAGIC, 8);
    dr_bk_put_be32(hdr + 8, 1);
    dr_bk_put_be32(hdr + 12, (uint32_t)l);
    memcpy(hdr + DR_SEAL_FIXED, js, l);
    free(js);
    dr_bk_hmac(khdr, hdr, DR_SEAL_FIXED + l, hdr + DR_SEAL_FIXED + l);
    OPENSSL_cleanse(khdr, sizeof(khdr));
    dr_bk_sha256(hdr, hl, s->hhash);
    s->segment_size = DR_BUNDLE_SEGMENT_SIZE;
    s->sink = sink;
    s->ud = ud;
    s->ctx = EVP_CIPHER_CTX_new();
    if (!s->ctx || EVP_EncryptInit_ex(s->ctx, EVP_aes_256_gcm(), NULL, s->kseg, NULL) != 1) {
        free(hdr);
        dr_seal_w_free(s);
        return dr_err_set(err, DR_E_INTERNAL, "AES-256-GCM is not available");
    }
    s->buf = dr_xmalloc(s->segment_size);
    s->out = dr_xmalloc(s->segment_size + DR_SEAL_TAG_LEN);
    int rc = sink(ud, hdr, hl, err);
    s->bytes_out = hl;
    free(hdr);
    if (rc != 0)
        dr_seal_w_free(s);
    return rc;
}

static int seal_segment(dr_seal_w *s, int final, dr_err *err)
{
    unsigned char nonce[12], aad[41];
    int outl = 0, fl = 0;
    nonce_aad(s->prefix, s->hhash, s->index, final, nonce, aad);
    if (EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(s->ctx, NULL, &outl, aad, sizeof(aad)) != 1 ||
        EVP_EncryptUpdate(s->ctx, s->out, &outl, s->buf, (int)s->len) != 1 ||
        EVP_EncryptFinal_ex(s->ctx, s->out + outl, &fl) != 1 ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, DR_SEAL_TAG_LEN, s->out + s->len) != 1)
        return dr_err_set(err, DR_E_INTERNAL, "segment %llu: AES-256-GCM encryption failed",
                          (unsigned long long)s->index);
    /* A secrets document is cleared as soon as it is sealed. (The bundle's
     * own plaintext is compressed data that zstd's buffers hold as well:
     * clearing this one copy per MiB would cost time and protect nothing.) */
    if (s->cleanse)
        OPENSSL_cleanse(s->buf, s->len);
    size_t n = s->len + DR_SEAL_TAG_LEN;
    s->len = 0;
    s->index++;
    s->bytes_out += n;
    return s->sink(s->ud, s->out, n, err);
}

int dr_seal_w_write(dr_seal_w *s, const void *p, size_t n, dr_err *err)
{
    const unsigned char *c = p;
    while (n) {
        /* A full segment is sealed only when more data follows: the last
         * one must carry the final flag. */
        if (s->len == s->segment_size && seal_segment(s, 0, err) != 0)
            return -1;
        size_t k = s->segment_size - s->len;
        if (k > n)
            k = n;
        memcpy(s->buf + s->len, c, k);
        s->len += k;
        c += k;
        n -= k;
    }
    return 0;
}

int dr_seal_w_finish(dr_seal_w *s, dr_err *err)
{
    return seal_segment(s, 1, err);
}

void dr_seal_w_free(dr_seal_w *s)
{
    if (s->ctx)
        EVP_CIPHER_CTX_free(s->ctx);
    if (s->buf) {
        OPENSSL_cleanse(s->buf, s->segment_size);
        free(s->buf);
    }
    free(s->out);
    OPENSSL_cleanse(s->kseg, sizeof(s->kseg));
    memset(s, 0, sizeof(*s));
}

/* ---- reading ------------------------------------------------------------- */

int dr_seal_r_header_len(const unsigned char first[DR_SEAL_FIXED], uint64_t *len, dr_err *err)
{
    if (memcmp(first, DR_SEAL_MAGIC, 8) != 0)
        return dr_err_set(err, DR_E_VERIFY, "header: not a sealed drctl container");
    uint32_t v = dr_bk_get_be32(first + 8), l = dr_bk_get_be32(first + 12);
    if (v != 1)
        return dr_err_set(err, DR_E_VERIFY, "header: container version %u is not supported", v);
    if (l == 0 || l > DR_SEAL_MAX_HEADER)
        return dr_err_set(err, DR_E_VERIFY, "header: bad header length %u", l);
    *len = DR_SEAL_FIXED + (uint64_t)l + 32;
    return 0;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int dr_seal_r_parse(dr_seal_r *s, const unsigned char *hdr, size_t len, uint64_t total, dr_err *err)
{
    memset(s, 0, sizeof(*s));
    uint64_t want;
    if (len < DR_SEAL_FIXED + 32 || dr_seal_r_header_len(hdr, &want, err) != 0)
        return len < DR_SEAL_FIXED + 32 ? dr_err_set(err, DR_E_VERIFY, "header: truncated") : -1;
    if (want != len)
        return dr_err_set(err, DR_E_VERIFY, "header: length mismatch");
    s->header_len = len;
    s->hdr_bytes_len = len - 32;
    s->hdr_bytes = dr_xmalloc(s->hdr_bytes_len);
    memcpy(s->hdr_bytes, hdr, s->hdr_bytes_len);
    memcpy(s->mac, hdr + s->hdr_bytes_len, 32);
    dr_bk_sha256(hdr, len, s->hhash);
    json_error_t je;
    s->header = json_loadb((const char *)hdr + DR_SEAL_FIXED, len - DR_SEAL_FIXED - 32,
                           JSON_REJECT_DUPLICATES, &je);
    json_t *h = s->header;
    const json_t *seg = json_object_get(h, "segment_size");
    const json_t *ver = json_object_get(h, "bundle_version");
    if (!h || json_integer_value(json_object_get(h, "format")) != 1 || !jstr(h, "content") ||
        !jstr(h, "stack") || !json_is_integer(ver) || json_integer_value(ver) < 1 ||
        !jstr(h, "cipher") || strcmp(jstr(h, "cipher"), "AES-256-GCM") != 0 ||
        !json_is_integer(seg) || json_integer_value(seg) != DR_BUNDLE_SEGMENT_SIZE ||
        dr_bk_unhex(jstr(h, "salt"), s->salt, sizeof(s->salt)) != 0 ||
        dr_bk_unhex(jstr(h, "nonce_prefix"), s->prefix, sizeof(s->prefix)) != 0) {
        dr_seal_r_free(s);
        return dr_err_set(err, DR_E_VERIFY,
                          "header: damaged or not a version 1 header (bad JSON or fields)");
    }
    s->content = jstr(h, "content");
    s->stack = jstr(h, "stack");
    s->version = (uint64_t)json_integer_value(ver);
    s->wraps = json_object_get(h, "key_wraps");
    if (dr_bk_wraps_check(s->wraps, err) != 0) {
        dr_seal_r_free(s);
        return dr_err_wrap(err, "header");
    }
    s->segment_size = DR_BUNDLE_SEGMENT_SIZE;
    uint64_t full = (uint64_t)s->segment_size + DR_SEAL_TAG_LEN;
    if (total < len + DR_SEAL_TAG_LEN) {
        dr_seal_r_free(s);
        return dr_err_set(err, DR_E_VERIFY,
                          "truncated: the bundle ends before its first "
                          "segment is complete");
    }
    s->body_len = total - len;
    s->n_segments = (s->body_len + full - 1) / full;
    uint64_t last = s->body_len - (s->n_segments - 1) * full;
    if (last < DR_SEAL_TAG_LEN) {
        dr_seal_r_free(s);
        return dr_err_set(err, DR_E_VERIFY,
                          "truncated inside segment %llu: only %llu bytes of it are left",
                          (unsigned long long)(s->n_segments - 1), (unsigned long long)last);
    }
    s->plain_size = (s->n_segments - 1) * s->segment_size + (last - DR_SEAL_TAG_LEN);
    return 0;
}

int dr_seal_r_key(dr_seal_r *s, const unsigned char key[32], dr_err *err)
{
    unsigned char khdr[32], mac[32];
    dr_bk_hkdf(key, s->salt, sizeof(s->salt), DR_BK_INFO_HEADER, khdr);
    dr_bk_hmac(khdr, s->hdr_bytes, s->hdr_bytes_len, mac);
    OPENSSL_cleanse(khdr, sizeof(khdr));
    if (!dr_bk_equal(mac, s->mac, 32))
        return dr_err_set(err, DR_E_VERIFY,
                          "header: authentication failed (the header was altered after the "
                          "key was wrapped)");
    dr_bk_hkdf(key, s->salt, sizeof(s->salt), DR_BK_INFO_SEGMENT, s->kseg);
    s->ctx = EVP_CIPHER_CTX_new();
    if (!s->ctx || EVP_DecryptInit_ex(s->ctx, EVP_aes_256_gcm(), NULL, s->kseg, NULL) != 1)
        return dr_err_set(err, DR_E_INTERNAL, "AES-256-GCM is not available");
    return 0;
}

void dr_seal_r_segment(const dr_seal_r *s, uint64_t i, uint64_t *off, size_t *ct_len)
{
    uint64_t full = (uint64_t)s->segment_size + DR_SEAL_TAG_LEN;
    *off = s->header_len + i * full;
    *ct_len = i + 1 < s->n_segments ? (size_t)full : (size_t)(s->body_len - i * full);
}

static int try_open(dr_seal_r *s, uint64_t i, int final, const unsigned char *ct, size_t ct_len,
                    unsigned char *pt)
{
    unsigned char nonce[12], aad[41], tag[DR_SEAL_TAG_LEN];
    int outl = 0, fl = 0;
    size_t n = ct_len - DR_SEAL_TAG_LEN;
    memcpy(tag, ct + n, DR_SEAL_TAG_LEN);
    nonce_aad(s->prefix, s->hhash, i, final, nonce, aad);
    if (EVP_DecryptInit_ex(s->ctx, NULL, NULL, NULL, nonce) != 1 ||
        EVP_DecryptUpdate(s->ctx, NULL, &outl, aad, sizeof(aad)) != 1 ||
        EVP_DecryptUpdate(s->ctx, pt, &outl, ct, (int)n) != 1 ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, DR_SEAL_TAG_LEN, tag) != 1 ||
        EVP_DecryptFinal_ex(s->ctx, pt + outl, &fl) != 1) {
        OPENSSL_cleanse(pt, n);
        return -1;
    }
    return 0;
}

int dr_seal_r_open(dr_seal_r *s, uint64_t i, const unsigned char *ct, size_t ct_len,
                   unsigned char *pt, size_t *pt_len, const char *what, dr_err *err)
{
    uint64_t off;
    size_t want;
    dr_seal_r_segment(s, i, &off, &want);
    int final = i + 1 == s->n_segments;
    if (i >= s->n_segments || ct_len != want || ct_len < DR_SEAL_TAG_LEN)
        return dr_err_set(err, DR_E_INTERNAL, "%s %llu: bad length", what, (unsigned long long)i);
    if (try_open(s, i, final, ct, ct_len, pt) == 0) {
        *pt_len = ct_len - DR_SEAL_TAG_LEN;
        return 0;
    }
    /* Tell truncation and appended data from damage: the same bytes opening
     * under the other final flag can only mean the stream was cut (or
     * extended) exactly at a segment boundary. */
    int other = try_open(s, i, !final, ct, ct_len, pt) == 0;
    if (other)
        OPENSSL_cleanse(pt, ct_len - DR_SEAL_TAG_LEN);
    if (other && final)
        return dr_err_set(err, DR_E_VERIFY,
                          "truncated: %s %llu is not the final segment; the bundle ends after "
                          "%llu of its segments",
                          what, (unsigned long long)i, (unsigned long long)(i + 1));
    if (other)
        return dr_err_set(err, DR_E_VERIFY,
                          "%s %llu is the final segment but data follows it (%llu bytes "
                          "appended)",
                          what, (unsigned long long)i,
                          (unsigned long long)(s->body_len - (off - s->header_len) - ct_len));
    if (final && ct_len < s->segment_size + DR_SEAL_TAG_LEN)
        return dr_err_set(err, DR_E_VERIFY,
                          "%s %llu (bytes %llu-%llu): authentication failed: the segment is "
                          "damaged, or the bundle was truncated inside it",
                          what, (unsigned long long)i, (unsigned long long)off,
                          (unsigned long long)(off + ct_len - 1));
    return dr_err_set(err, DR_E_VERIFY,
                      "%s %llu (bytes %llu-%llu): authentication failed: the segment is "
                      "damaged, altered or out of order",
                      what, (unsigned long long)i, (unsigned long long)off,
                      (unsigned long long)(off + ct_len - 1));
}

void dr_seal_r_free(dr_seal_r *s)
{
    if (s->ctx)
        EVP_CIPHER_CTX_free(s->ctx);
    json_decref(s->header);
    free(s->hdr_bytes);
    OPENSSL_cleanse(s->kseg, sizeof(s->kseg));
    memset(s, 0, sizeof(*s));
}

/* ---- whole buffers (the secrets entry) ----------------------------------- */

static int buf_sink(void *ud, const void *p, size_t n, dr_err *err)
{
    dr_buf_append(ud, p, n);
    return 0;
}

int dr_seal_buffer(const unsigned char key[32], const char *content, const char *stack,
                   uint64_t version, const json_t *wraps, const void *pt, size_t n, dr_buf *out,
                   dr_err *err)
{
    dr_seal_w s;
    if (dr_seal_w_init(&s, key, content, stack, version, wraps, buf_sink, out, err) != 0)
        return -1;
    s.cleanse = 1;
    int rc = dr_seal_w_write(&s, pt, n, err);
    if (rc == 0)
        rc = dr_seal_w_finish(&s, err);
    dr_seal_w_free(&s);
    return rc;
}

int dr_unseal_buffer(const void *blob, size_t n, const unsigned char *key,
                     const dr_bundle_keyring *kr, const char *want_content, dr_buf *pt, dr_err *err)
{
    const unsigned char *b = blob;
    uint64_t hl;
    if (n < DR_SEAL_FIXED)
        return dr_err_set(err, DR_E_VERIFY, "%s: too short to be sealed", want_content);
    if (dr_seal_r_header_len(b, &hl, err) != 0 || hl > n)
        return hl > n ? dr_err_set(err, DR_E_VERIFY, "%s: truncated header", want_content)
                      : dr_err_wrap(err, "%s", want_content);
    dr_seal_r s;
    if (dr_seal_r_parse(&s, b, (size_t)hl, n, err) != 0)
        return dr_err_wrap(err, "%s", want_content);
    int rc = 0;
    unsigned char k[32];
    if (strcmp(s.content, want_content) != 0) {
        rc = dr_err_set(err, DR_E_VERIFY, "%s: the container holds '%s'", want_content, s.content);
    } else if (key) {
        memcpy(k, key, 32);
    } else {
        char *with = NULL;
        rc = dr_bk_unwrap(s.wraps, kr, s.stack, s.version, k, &with, err);
        free(with);
    }
    if (rc == 0 && dr_seal_r_key(&s, k, err) != 0)
        rc = dr_err_wrap(err, "%s", want_content);
    OPENSSL_cleanse(k, sizeof(k));
    unsigned char *seg = rc == 0 ? dr_xmalloc(s.segment_size) : NULL;
    for (uint64_t i = 0; rc == 0 && i < s.n_segments; i++) {
        uint64_t off;
        size_t ct_len, got;
        dr_seal_r_segment(&s, i, &off, &ct_len);
        char what[64];
        snprintf(what, sizeof(what), "%s segment", want_content);
        if (dr_seal_r_open(&s, i, b + off, ct_len, seg, &got, what, err) != 0)
            rc = -1;
        else
            dr_bk_sec_append(pt, seg, got);
    }
    if (seg) {
        OPENSSL_cleanse(seg, s.segment_size);
        free(seg);
    }
    dr_seal_r_free(&s);
    if (rc != 0)
        dr_buf_free_secret(pt);
    return rc;
}
