/*
 * bundle.h - the bundle format: one versioned, self-describing file that is
 * enough to rebuild the stack elsewhere (docs/bundle-format.md is the
 * specification; this header is the library's promise).
 *
 * A bundle is a pax tar stream compressed with zstd. The data entries come
 * first; the last zstd frame (the "tail") holds the encrypted secrets entry,
 * MANIFEST.json and MANIFEST.sig; a zstd skippable frame at the very end (the
 * "footer", ignored by `zstd -d`) points at the tail and lists a SHA-256 per
 * MiB of the compressed stream. So an unencrypted bundle opens with
 * `zstd -d | tar -x` in an emergency, while a reader reaches the signed
 * manifest with one seek and checks every byte before it is used.
 *
 * An encrypted bundle is that same byte stream sealed in AES-256-GCM segments
 * of 1 MiB under a random 32-byte bundle key. The bundle key is wrapped by KMS
 * in each configured region and optionally by an offline RSA recovery public
 * key, so the bundle opens in either region or with no AWS at all. The
 * secrets entry is sealed the same way in every bundle, `encryption: none`
 * included: secret values never exist in clear in a bundle or a temp file.
 *
 * Memory stays bounded whatever the data size: entries of unknown length
 * (pg_dump's output, S3 downloads) are cut into parts of `part_size` bytes
 * (8 MiB by default) held in memory one at a time, and nothing is ever staged
 * on disk. What grows is the manifest: about 150 bytes plus the path per
 * entry, and 32 bytes per MiB of an unencrypted bundle for the footer.
 *
 * Errors are dr_err values; a damaged bundle fails with DR_E_VERIFY and a
 * message that names the entry, segment, header, footer or wrap at fault.
 */
#ifndef DRCTL_BUNDLE_BUNDLE_H
#define DRCTL_BUNDLE_BUNDLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/client.h"
#include "util/err.h"
#include "util/kv.h"
#include "util/log.h"

#define DR_BUNDLE_FORMAT_VERSION 1
/* Bytes of compressed stream per GCM segment / footer chunk. */
#define DR_BUNDLE_SEGMENT_SIZE (1024u * 1024u)
#define DR_BUNDLE_KEY_LEN 32
/* Parts of a streamed entry: "<path>.part-000001", "<path>.part-000002", ... */
#define DR_BUNDLE_PART_SIZE_DEFAULT (8u * 1024u * 1024u)
#define DR_BUNDLE_PART_SIZE_MAX (64u * 1024u * 1024u)
/* The fixed name of the sealed secrets entry. */
#define DR_BUNDLE_SECRETS_PATH "secrets/secrets.enc"

typedef enum dr_bundle_kind { DR_BUNDLE_FULL = 0, DR_BUNDLE_INCREMENTAL = 1 } dr_bundle_kind;
typedef enum dr_bundle_enc { DR_BUNDLE_ENC_NONE = 0, DR_BUNDLE_ENC_AES = 1 } dr_bundle_enc;

/*
 * KMS, as the bundle code needs it. dr_bundle_kms_aws() gives the real one
 * (dr_aws_json "kms" Encrypt/Decrypt); tests pass fakes. `context` is the KMS
 * EncryptionContext. Outputs are allocated with dr_xmalloc; the caller frees
 * (*pt with dr_secure_zero first). *key_arn_out, when non-NULL, receives the
 * key ARN that KMS reports (caller frees).
 */
typedef struct dr_bundle_kms {
    int (*encrypt)(void *ud, const char *region, const char *key_id, const dr_kvlist *context,
                   const unsigned char *pt, size_t pt_len, unsigned char **ct, size_t *ct_len,
                   char **key_arn_out, dr_err *err);
    int (*decrypt)(void *ud, const char *region, const char *key_id, const dr_kvlist *context,
                   const unsigned char *ct, size_t ct_len, unsigned char **pt, size_t *pt_len,
                   dr_err *err);
    void *ud;
} dr_bundle_kms;

/* KMS through the AWS client (borrowed; must outlive the returned struct's use). */
void dr_bundle_kms_aws(dr_aws *aws, dr_bundle_kms *out);

/* Where the bundle key is wrapped: a KMS key in one region. */
typedef struct dr_bundle_kms_key {
    const char *region;
    const char *key_id; /* key id, ARN or alias */
} dr_bundle_kms_key;

/* ---- writing ------------------------------------------------------------ */

typedef struct dr_bundle_wopts {
    const char *stack;   /* required */
    const char *region;  /* source region, required */
    uint64_t version;    /* bundle version, >= 1 */
    uint64_t parent;     /* parent version for incremental bundles, 0 = none */
    int64_t captured_at; /* the recovery point, Unix seconds */
    dr_bundle_kind kind;
    dr_bundle_enc encryption;

    /* Key wraps: at least one KMS key or a recovery key is required, in every
     * mode (secrets are always sealed and the manifest always signed). */
    const dr_bundle_kms_key *kms_keys;
    size_t n_kms_keys;
    const dr_bundle_kms *kms;        /* required when n_kms_keys > 0 */
    const char *recovery_pubkey_pem; /* RSA >= 2048 bits, PEM SubjectPublicKeyInfo, or NULL */

    int level;         /* zstd level; 0 = 3 */
    int workers;       /* zstd worker threads; 0 = 2, -1 = none */
    size_t part_size;  /* parts of streamed entries; 0 = DR_BUNDLE_PART_SIZE_DEFAULT */
    const dr_log *log; /* may be NULL */
} dr_bundle_wopts;

typedef struct dr_bundle_writer dr_bundle_writer;

/* Per-entry attributes; NULL means mode 0644 (0600 under secrets/) and
 * mtime = captured_at. */
typedef struct dr_bundle_entry_opts {
    unsigned mode; /* permission bits; 0 = default */
    int64_t mtime; /* 0 = captured_at */
} dr_bundle_entry_opts;

/*
 * Opens a writer on `path`: the bundle is written to a temporary name in the
 * same directory and renamed into place by a successful close, so a bundle
 * at `path` is always complete. The bundle key is generated and wrapped here
 * (KMS calls happen in open).
 */
int dr_bundle_writer_open(const char *path, const dr_bundle_wopts *opts, dr_bundle_writer **out,
                          dr_err *err);
/* The same on an open descriptor (a pipe works: writing is sequential). The
 * descriptor stays the caller's. */
int dr_bundle_writer_open_fd(int fd, const dr_bundle_wopts *opts, dr_bundle_writer **out,
                             dr_err *err);

/* Bundle paths are relative UTF-8 paths under config/, db/, s3/ or secrets/,
 * with no empty, "." or ".." component, no control characters or backslash,
 * components of at most 255 bytes, 4096 bytes in all; names ending in
 * ".part-NNNNNN" and secrets/secrets.enc are reserved. */
int dr_bundle_writer_add_buffer(dr_bundle_writer *w, const char *path, const void *data, size_t n,
                                const dr_bundle_entry_opts *eo, dr_err *err);

/* An entry of unknown length from `read` (0 at end, -1 on error), stored as
 * parts of part_size bytes: "<path>.part-000001", ... (at least one part,
 * possibly empty). The manifest lists each part and the whole stream. */
int dr_bundle_writer_add_stream(dr_bundle_writer *w, const char *path, dr_read_fn read, void *ud,
                                const dr_bundle_entry_opts *eo, dr_err *err);

/* An entry of known size streamed from `read` without buffering it whole (a tar header with
 * the size first, then the bytes, SHA-256 computed on the way). Fails (DR_E_IO, naming the path)
 * if read delivers more or fewer than `size` bytes; the bundle is then unusable (abort it).
 * `read` is called once more after the last byte and must then return 0. */
int dr_bundle_writer_add_sized(dr_bundle_writer *w, const char *path, uint64_t size,
                               dr_read_fn read, void *ud, const dr_bundle_entry_opts *eo,
                               dr_err *err);

/* A local regular file, streamed (its size is known); fails if the file
 * changes size while it is read. */
int dr_bundle_writer_add_file(dr_bundle_writer *w, const char *path, const char *fs_path,
                              const dr_bundle_entry_opts *eo, dr_err *err);

/* A secret value (SecretString or SecretBinary bytes) under its name. Kept in
 * memory (zeroed on free) and sealed into secrets/secrets.enc by close. */
int dr_bundle_writer_add_secret(dr_bundle_writer *w, const char *name, const void *value, size_t n,
                                dr_err *err);

/* A native snapshot ARN to record in the manifest, e.g. type "rds-snapshot". */
int dr_bundle_writer_add_snapshot(dr_bundle_writer *w, const char *type, const char *region,
                                  const char *arn, dr_err *err);

/* A caller-defined manifest member under "meta" (e.g. per-table row counts);
 * `value` is borrowed (copied here). */
int dr_bundle_writer_set_meta(dr_bundle_writer *w, const char *key, json_t *value, dr_err *err);

typedef struct dr_bundle_result {
    uint64_t bytes_in;  /* entry bytes */
    uint64_t bytes_out; /* bundle file size */
    size_t entries;
    char manifest_sha256[65];
} dr_bundle_result;

/* Writes the secrets entry, the manifest, its signature and the footer,
 * flushes, fsyncs and renames into place. Frees the writer whatever happens;
 * on failure nothing is left at `path`. `res` may be NULL. */
int dr_bundle_writer_close(dr_bundle_writer *w, dr_bundle_result *res, dr_err *err);

/* Discards a bundle being written (removes the temporary file). NULL is fine. */
void dr_bundle_writer_abort(dr_bundle_writer *w);

/* ---- reading ------------------------------------------------------------ */

/* What may open the bundle key. */
typedef struct dr_bundle_keyring {
    const dr_bundle_kms *kms;         /* NULL: KMS wraps are not tried */
    const char *const *kms_regions;   /* try only wraps of these regions, in this order; */
    size_t n_kms_regions;             /* 0 = every KMS wrap in the bundle's order */
    const char *recovery_privkey_pem; /* NULL: the recovery wrap is not tried */
    /* Unencrypted bundles only: without a usable key, still check integrity
     * (footer checksum, chunk and entry hashes) but not the signature. */
    int allow_unauthenticated;
} dr_bundle_keyring;

/* Random access to the bundle bytes (a local file, or ranged GETs). */
typedef struct dr_bundle_source {
    uint64_t size;
    /* Reads exactly n bytes at off: 0, or -1 with err set. */
    int (*pread)(void *ud, void *buf, size_t n, uint64_t off, dr_err *err);
    void *ud;
} dr_bundle_source;

typedef struct dr_bundle_reader dr_bundle_reader;

typedef struct dr_bundle_info {
    const char *stack;
    const char *source_region;
    uint64_t version;
    uint64_t parent; /* 0 = none */
    dr_bundle_kind kind;
    int encrypted;
    int authenticated; /* 0 only with allow_unauthenticated and no key */
    int64_t captured_at;
    const char *captured_at_text; /* RFC 3339 as in the manifest */
    size_t n_entries;
    uint64_t data_bytes;     /* sum of entry sizes */
    const char *opened_with; /* "aws-kms us-west-2", "rsa-oaep-sha256 recovery key", "none" */
} dr_bundle_info;

/*
 * Opens a bundle: checks the header (encrypted), unwraps the bundle key,
 * reads the footer and the tail, and checks the manifest's signature and
 * every path and type it lists. Data is not read yet (see scan/verify).
 */
int dr_bundle_reader_open(const char *path, const dr_bundle_keyring *kr, dr_bundle_reader **out,
                          dr_err *err);
/* `src` is copied; src->ud must outlive the reader. */
int dr_bundle_reader_open_source(const dr_bundle_source *src, const dr_bundle_keyring *kr,
                                 dr_bundle_reader **out, dr_err *err);
void dr_bundle_reader_close(dr_bundle_reader *r);

const dr_bundle_info *dr_bundle_reader_info(const dr_bundle_reader *r);
/* The parsed, verified manifest (borrowed). */
const json_t *dr_bundle_reader_manifest(const dr_bundle_reader *r);

/* One entry as the scan meets it (all borrowed for the callback's duration). */
typedef struct dr_bundle_entry {
    size_t index;       /* position in the manifest's entries */
    const char *path;   /* tar path */
    const char *stream; /* logical path when this is a part of a streamed entry, else NULL */
    unsigned part;      /* 1-based part number, 0 if not a part */
    int last_part;      /* 1 on the stream's last part */
    uint64_t size;
    const char *sha256; /* hex, from the manifest */
    unsigned mode;
    int64_t mtime;
} dr_bundle_entry;

/* Callbacks of a scan; any may be NULL. begin returns 0 to receive the data,
 * 1 to skip it (it is still verified), -1 to stop with err set. data and end
 * return 0 or -1. `end` runs only after the entry's size and SHA-256 matched
 * the manifest: data delivered before that is not yet verified. */
typedef struct dr_bundle_visitor {
    int (*begin)(void *ud, const dr_bundle_entry *e, dr_err *err);
    int (*data)(void *ud, const dr_bundle_entry *e, const void *p, size_t n, dr_err *err);
    int (*end)(void *ud, const dr_bundle_entry *e, dr_err *err);
    void *ud;
} dr_bundle_visitor;

/* Streams the whole bundle once, checking every segment (GCM tag or chunk
 * hash), every tar header against the manifest (order, path, type, size),
 * every entry's SHA-256, the tail and the end of the stream. */
int dr_bundle_reader_scan(dr_bundle_reader *r, const dr_bundle_visitor *v, dr_err *err);

/* scan with no visitor: the first problem is reported by name. */
int dr_bundle_reader_verify(dr_bundle_reader *r, dr_err *err);

/*
 * Safe extraction into `dir` (which must not exist, or be an empty
 * directory): a full verification pass first, so a bad bundle is refused
 * before anything is written; then a second pass into a private staging
 * directory beside `dir`, renamed to `dir` at the end (removed on failure).
 * Only regular files are ever created. secrets/secrets.enc is extracted
 * still sealed.
 */
int dr_bundle_reader_extract(dr_bundle_reader *r, const char *dir, dr_err *err);

/* The secrets, decrypted one at a time; `value` is zeroed after the callback
 * returns (copy what you keep, and zero it). No secrets: no calls. */
typedef int (*dr_bundle_secret_fn)(void *ud, const char *name, const unsigned char *value, size_t n,
                                   dr_err *err);
int dr_bundle_reader_secrets(dr_bundle_reader *r, dr_bundle_secret_fn fn, void *ud, dr_err *err);

/* Opens a sealed secrets blob on its own (e.g. secrets/secrets.enc taken out
 * with tar), unwrapping its key with `kr`. */
int dr_bundle_secrets_open(const void *blob, size_t n, const dr_bundle_keyring *kr,
                           dr_bundle_secret_fn fn, void *ud, dr_err *err);

/* "db/dump.pgc.part-000002" -> stream "db/dump.pgc" (into buf), part 2.
 * Returns 1 for a part name, 0 otherwise. */
int dr_bundle_part_name(const char *path, char *stream, size_t cap, unsigned *part);

#endif
