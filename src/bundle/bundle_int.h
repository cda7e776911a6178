/*
 * bundle_int.h - what the bundle's source files share: key derivation and
 * wraps (keys.c), the sealed segment container (seal.c), paths, the footer
 * and small helpers (format.c). Not for use outside src/bundle/ and its
 * tests.
 */
#ifndef DRCTL_BUNDLE_BUNDLE_INT_H
#define DRCTL_BUNDLE_BUNDLE_INT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "util/buf.h"
#include "util/err.h"

/* HKDF-SHA256 "info" labels (docs/bundle-format.md, "Keys"). */
#define DR_BK_INFO_SEGMENT "drctl-bundle/1 segment key"
#define DR_BK_INFO_HEADER "drctl-bundle/1 header mac"
#define DR_BK_INFO_MANIFEST "drctl-bundle/1 manifest mac"

#define DR_SEAL_MAGIC "DRCTLENC"
#define DR_SEAL_FIXED 16           /* magic, version, header length */
#define DR_SEAL_MAX_HEADER 1048576 /* a header JSON longer than this is refused */
#define DR_SEAL_SALT_LEN 32
#define DR_SEAL_PREFIX_LEN 4
#define DR_SEAL_TAG_LEN 16

#define DR_FOOTER_SKIPPABLE_MAGIC 0x184D2A5Du
#define DR_FOOTER_MAGIC "DRCTLFTR"
#define DR_FOOTER_END "DRCTLEND"
#define DR_FOOTER_FIXED 124 /* footer bytes besides the chunk hashes */

#define DR_MANIFEST_PATH "MANIFEST.json"
#define DR_MANIFEST_SIG_PATH "MANIFEST.sig"

/* ---- bytes and hashes (format.c) ---------------------------------------- */

void dr_bk_put_be32(unsigned char *p, uint32_t v);
void dr_bk_put_be64(unsigned char *p, uint64_t v);
uint32_t dr_bk_get_be32(const unsigned char *p);
uint64_t dr_bk_get_be64(const unsigned char *p);

void dr_bk_hex(const unsigned char *p, size_t n, char *out); /* out: 2n+1 */
/* Parses exactly 2n hex digits; 0 or -1. */
int dr_bk_unhex(const char *hex, unsigned char *out, size_t n);
char *dr_bk_b64(const unsigned char *p, size_t n);
/* Strict base64; *out allocated (dr_xmalloc). 0 or -1. */
int dr_bk_unb64(const char *s, unsigned char **out, size_t *n);

void dr_bk_sha256(const void *p, size_t n, unsigned char out[32]);
void dr_bk_hmac(const unsigned char key[32], const void *p, size_t n, unsigned char out[32]);
/* Constant-time comparison: 1 when equal. */
int dr_bk_equal(const void *a, const void *b, size_t n);
void dr_bk_hkdf(const unsigned char key[32], const unsigned char *salt, size_t salt_len,
                const char *info, unsigned char out[32]);
/* "the last OpenSSL error" for messages (never contains key material). */
const char *dr_bk_ossl_err(char *buf, size_t cap);

/* RFC 3339 UTC: "2024-05-01T12:00:00Z". 0 or -1. */
void dr_bk_time_format(int64_t t, char out[32]);
int dr_bk_time_parse(const char *s, int64_t *t);

/* Path rules (bundle.h). `why` gets the reason. Returns 0 when acceptable. */
int dr_bk_path_check(const char *path, char *why, size_t cap);

/* A set of strings (copied) with open addressing: duplicate and file/dir
 * conflict checks over many entries. */
typedef struct dr_strset {
    char **keys;
    size_t n;
    size_t cap;
} dr_strset;
/* 1 when added, 0 when already there. */
int dr_strset_add(dr_strset *s, const char *key);
int dr_strset_has(const dr_strset *s, const char *key);
void dr_strset_free(dr_strset *s);

/* Adds `path` to the files set and its parents to the dirs set; fails (with
 * why) on a duplicate or when a file and a directory would share a name. */
int dr_bk_tree_add(dr_strset *files, dr_strset *dirs, const char *path, char *why, size_t cap);

/* ---- footer (format.c) -------------------------------------------------- */

typedef struct dr_footer {
    uint32_t chunk_size;
    uint64_t tail_offset;
    uint64_t stream_len;
    uint64_t n_chunks;
    unsigned char *hashes; /* 32 * n_chunks, borrowed or owned by the caller */
    unsigned char mac[32];
} dr_footer;

/* Serialises; the HMAC is computed with k_man. Returns an allocated buffer of
 * *len bytes. */
unsigned char *dr_footer_encode(const dr_footer *f, const unsigned char k_man[32], size_t *len);
/* Total footer length from its last 12 bytes; 0 when they are not a footer. */
uint32_t dr_footer_len_from_tail(const unsigned char tail[12]);
/* Checks layout and checksum (not the HMAC) and fills *f (f->hashes points
 * into p). */
int dr_footer_decode(const unsigned char *p, size_t n, dr_footer *f, dr_err *err);
/* Checks the HMAC of an encoded footer. 1 when it matches. */
int dr_footer_mac_ok(const unsigned char *p, size_t n, const unsigned char k_man[32]);

/* ---- keys (keys.c) ------------------------------------------------------ */

/* Wraps `key` for every KMS key and the recovery key; *wraps is a new JSON
 * array (docs: "Key wraps"). */
int dr_bk_wrap(const unsigned char key[32], const dr_bundle_wopts *o, json_t **wraps, dr_err *err);
/* Unwraps with the keyring; *opened_with (allocated) says which wrap. */
int dr_bk_unwrap(const json_t *wraps, const dr_bundle_keyring *kr, const char *stack,
                 uint64_t version, unsigned char key[32], char **opened_with, dr_err *err);
/* "aws-kms us-east-1 (arn:...), rsa-oaep-sha256 recovery key sha256:..." */
char *dr_bk_describe_wraps(const json_t *wraps);
/* Checks the shape of a wraps array (types, fields, base64). */
int dr_bk_wraps_check(const json_t *wraps, dr_err *err);

/* ---- the sealed container (seal.c) -------------------------------------- */

typedef int (*dr_sink_fn)(void *ud, const void *p, size_t n, dr_err *err);

typedef struct dr_seal_w {
    EVP_CIPHER_CTX *ctx;
    unsigned char kseg[32];
    unsigned char prefix[DR_SEAL_PREFIX_LEN];
    unsigned char hhash[32];
    unsigned char *buf; /* segment_size plaintext */
    size_t len;
    uint32_t segment_size;
    unsigned char *out; /* segment_size + tag */
    uint64_t index;
    uint64_t bytes_out;
    int cleanse; /* clear each plaintext segment once sealed (secrets) */
    dr_sink_fn sink;
    void *ud;
} dr_seal_w;

/* Writes the header through `sink`. `content` is "bundle" or "secrets". */
int dr_seal_w_init(dr_seal_w *s, const unsigned char key[32], const char *content,
                   const char *stack, uint64_t version, const json_t *wraps, dr_sink_fn sink,
                   void *ud, dr_err *err);
int dr_seal_w_write(dr_seal_w *s, const void *p, size_t n, dr_err *err);
/* Seals the final segment. */
int dr_seal_w_finish(dr_seal_w *s, dr_err *err);
void dr_seal_w_free(dr_seal_w *s);

typedef struct dr_seal_r {
    json_t *header; /* parsed header JSON */
    const char *content;
    const char *stack;
    uint64_t version;
    const json_t *wraps; /* borrowed from header */
    uint64_t header_len; /* bytes before the first segment */
    uint32_t segment_size;
    unsigned char salt[DR_SEAL_SALT_LEN];
    unsigned char prefix[DR_SEAL_PREFIX_LEN];
    unsigned char hhash[32];
    unsigned char mac[32];
    unsigned char *hdr_bytes; /* the header without its MAC, for the MAC check */
    size_t hdr_bytes_len;
    unsigned char kseg[32];
    uint64_t body_len;
    uint64_t n_segments;
    uint64_t plain_size;
    EVP_CIPHER_CTX *ctx;
} dr_seal_r;

/* How many bytes of header are needed, from the first 16: 0 ok, -1 not a
 * sealed container or a bad length. */
int dr_seal_r_header_len(const unsigned char first[DR_SEAL_FIXED], uint64_t *len, dr_err *err);
/* Parses the header bytes (len from dr_seal_r_header_len); total = container
 * size, for the segment count. */
int dr_seal_r_parse(dr_seal_r *s, const unsigned char *hdr, size_t len, uint64_t total,
                    dr_err *err);
/* Derives the keys from the unwrapped key and checks the header MAC. */
int dr_seal_r_key(dr_seal_r *s, const unsigned char key[32], dr_err *err);
/* Ciphertext offset and length of segment i. */
void dr_seal_r_segment(const dr_seal_r *s, uint64_t i, uint64_t *off, size_t *ct_len);
/* Opens segment i (ct_len from dr_seal_r_segment) into pt (segment_size);
 * *pt_len gets its length. Errors name the segment and tell truncation from
 * damage. `what` names the container in messages ("segment", "secrets
 * segment"). */
int dr_seal_r_open(dr_seal_r *s, uint64_t i, const unsigned char *ct, size_t ct_len,
                   unsigned char *pt, size_t *pt_len, const char *what, dr_err *err);
void dr_seal_r_free(dr_seal_r *s);

/* Whole-buffer helpers for the secrets blob. */
int dr_seal_buffer(const unsigned char key[32], const char *content, const char *stack,
                   uint64_t version, const json_t *wraps, const void *pt, size_t n, dr_buf *out,
                   dr_err *err);
/* Opens a whole sealed buffer with a known key (or, key NULL, with the
 * keyring); *pt is a secure buffer the caller frees with dr_buf_free_secret. */
int dr_unseal_buffer(const void *blob, size_t n, const unsigned char *key,
                     const dr_bundle_keyring *kr, const char *want_content, dr_buf *pt,
                     dr_err *err);

/* ---- secrets plaintext (keys.c) ----------------------------------------- */

/* Appends to a buffer holding secrets: grows without leaving copies in
 * freed memory (dr_buf's realloc would). Free with dr_buf_free_secret. */
void dr_bk_sec_append(dr_buf *b, const void *p, size_t n);
/* Appends one secret to a JSON array body being built in a secure buffer. */
void dr_bk_secret_append(dr_buf *b, const char *name, const void *value, size_t n);
/* Walks the secrets plaintext; values are decoded into secure memory and
 * zeroed after each callback. */
int dr_bk_secrets_parse(const dr_buf *pt, dr_bundle_secret_fn fn, void *ud, dr_err *err);

/* ---- test hooks (writer.c) ---------------------------------------------- */

struct archive_entry;
/* Writes an arbitrary tar entry, bypassing every check; the manifest lists
 * it under `manifest_path` (or its own name when NULL) with `type` ("file",
 * "symlink", ...). Only for tests that build malicious bundles. */
int dr_bundle_writer_test_raw(dr_bundle_writer *w, struct archive_entry *e, const void *data,
                              size_t n, const char *manifest_path, const char *type, dr_err *err);

/* Records a wrong SHA-256 for the last entry written, so that tests can
 * reach the entry-level check behind the segment checks. */
void dr_bundle_writer_test_bad_sha(dr_bundle_writer *w);

#endif
