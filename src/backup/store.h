/*
 * store.h - where bundles live: a local directory or an S3 vault bucket.
 *
 * Local store DIR (default "snapshots", --store, DRCTL_STORE):
 *   DIR/bundles/<stack>/<stack>-v000007.drb    the bundle
 *   DIR/bundles/<stack>/<stack>-v000007.json   its summary (the "sidecar")
 *   DIR/tmp/<stack>/                           work in progress; garbage once
 *                                              the stack's backup lock is held
 * A local bundle is listed only when both files exist and the sidecar parses:
 * publish writes the sidecar first and renames the bundle in last, so a
 * listed bundle is complete.
 *
 * S3 vault "s3://BUCKET[/PREFIX]" in a region: the bundle is the object
 * PREFIX/bundles/<stack>/<stack>-v000007.drb and its summary the same key
 * with .json. A vault bundle is listed when the .drb exists (a multipart
 * upload is invisible until it completes); its summary, uploaded after it,
 * may be missing (summary NULL: shown as "?").
 *
 * The summary (non-secret; what list and prune need without opening the
 * encrypted bundle):
 *   {"format":1, "stack", "version", "parent" (0 = none), "kind": "full"|"incremental",
 *    "captured_at" (Unix), "captured_at_text", "source_region", "size",
 *    "manifest_sha256", "file_sha256" (hex of the whole bundle file), "encrypted",
 *    "entries", "data_bytes", "snapshots": [{"type","region","arn"}],
 *    "objects": {"listed","captured","referenced"}, "db": {"tables","rows"},
 *    "verified_at" (Unix, when the manifest was checked at publish),
 *    "vault": {"bucket","region","key"} or null}
 *
 * Stack names are plain names ([A-Za-z0-9._-], no ".."): they become path
 * components and key parts. Not thread-safe: one thread drives a store.
 */
#ifndef DRCTL_BACKUP_STORE_H
#define DRCTL_BACKUP_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/client.h"
#include "bundle/bundle.h"
#include "util/err.h"

#define DR_STORE_SUMMARY_FORMAT 1
/* Multipart part size of vault uploads (fixed, so an interrupted upload can
 * be resumed part for part). */
#define DR_STORE_PART_SIZE (8LL * 1024 * 1024)

typedef struct dr_store dr_store;

/* spec: a directory path, or "s3://BUCKET[/PREFIX]" (then aws and region are
 * required; aws is borrowed and must outlive the store). Opening checks the
 * spec only: no file or AWS access. A bad spec is DR_E_USAGE. */
int dr_store_open(const char *spec, dr_aws *aws, const char *region, dr_store **out, dr_err *err);
void dr_store_free(dr_store *s);
int dr_store_is_s3(const dr_store *s);
/* "snapshots" or "s3://b/p (us-west-2)" */
const char *dr_store_describe(const dr_store *s);

/* "<stack>-v000007.drb" (caller frees). */
char *dr_store_bundle_name(const char *stack, uint64_t version);

typedef struct dr_store_entry {
    uint64_t version;
    char *name;     /* "<stack>-v000007.drb" */
    char *location; /* local path or s3://bucket/key */
    uint64_t size;
    json_t *summary; /* parsed sidecar, or NULL when missing/unreadable (vault only) */
} dr_store_entry;

typedef struct dr_store_list {
    dr_store_entry *v; /* ascending version */
    size_t n;
} dr_store_list;

/* Lists the stack's bundles. Names that do not match "<stack>-vNNNNNN.drb"
 * exactly are ignored. A missing store or stack directory is an empty list.
 * C cannot name a type and a function alike, so the function is
 * dr_store_list_bundles and dr_store_list(...) is a function-like macro for
 * it: `dr_store_list x;` is the type, `dr_store_list(s, ...)` the call. */
int dr_store_list_bundles(dr_store *s, const char *stack, dr_store_list *out, dr_err *err);
#define dr_store_list(s, stack, out, err) dr_store_list_bundles((s), (stack), (out), (err))
void dr_store_list_free(dr_store_list *l);
uint64_t dr_store_list_max_version(const dr_store_list *l); /* 0 when empty */
/* The entry of a version, or NULL. */
const dr_store_entry *dr_store_list_find(const dr_store_list *l, uint64_t version);

/* Local stores: where a bundle being made is written (DIR/tmp/<stack>/<name>;
 * the bundle writer itself writes to a hidden temporary beside that and
 * renames on close), creating directories 0700. Caller frees. For an S3
 * store: DR_E_USAGE (stage locally, then publish to the vault). */
char *dr_store_staging_path(dr_store *s, const char *stack, uint64_t version, dr_err *err);

/*
 * Local: writes the summary (tmp + fsync + rename) then renames the staged
 * bundle into bundles/<stack>/ and fsyncs the directory: the bundle appears
 * complete or not at all (the sidecar first: a sidecar without its bundle is
 * garbage that cleanup removes). staged_path must be on the store's file
 * system (dr_store_staging_path). An existing bundle of that version is
 * DR_E_INTERNAL (versions are never reused).
 *
 * S3: uploads the local file staged_path (multipart in parallel with SHA-256
 * part checksums via dr_s3_put_file; the object only exists once
 * CompleteMultipartUpload succeeds, so publish is atomic). When an earlier,
 * interrupted run left a multipart upload for the same key, that upload is
 * resumed instead: parts whose size and checksum (ChecksumSHA256, or the
 * MD5 ETag when S3 lists no checksum) match the local file's are kept, the
 * others sent again, then completed; other stray uploads of the key are
 * aborted. Then sets Object Lock retention (GOVERNANCE, retain until
 * captured_at + lock_days) when the bucket has Object Lock enabled and
 * lock_days > 0, uploads the summary, and HEADs the object to check its
 * size. The staged file is left in place (the caller deletes it).
 */
int dr_store_publish(dr_store *s, const char *stack, uint64_t version, const char *staged_path,
                     const json_t *summary, int lock_days, dr_err *err);

/* What the last dr_store_publish to a vault did (for logs and tests). */
typedef struct dr_store_publish_stats {
    int resumed;           /* 1 when an interrupted multipart upload was continued */
    size_t parts_reused;   /* parts already in S3 with the right checksum */
    size_t parts_uploaded; /* parts sent by the resume */
    size_t uploads_aborted;
    int locked; /* 1 when Object Lock retention was set */
} dr_store_publish_stats;
void dr_store_get_publish_stats(const dr_store *s, dr_store_publish_stats *out);

/* Removes garbage; call it holding the stack's backup lock. Local:
 * DIR/tmp/<stack>/ * and sidecars without bundles. S3: aborts every
 * multipart upload under PREFIX/bundles/<stack>/ (ListMultipartUploads).
 * *removed (may be NULL) counts what went. */
int dr_store_cleanup(dr_store *s, const char *stack, size_t *removed, dr_err *err);

/* Deletes a bundle and its summary (local: summary after the bundle; vault:
 * the current versions by version id, so that Object Lock applies). An
 * Object Lock refusal is DR_E_AWS naming the retain-until date. A missing
 * bundle is DR_E_NOT_FOUND. */
int dr_store_delete(dr_store *s, const char *stack, uint64_t version, dr_err *err);

/* Random access for dr_bundle_reader_open_source: a local file, or ranged
 * GETs on the vault object (the last 1 MiB range read is cached). src->ud
 * is *ud_out, freed with dr_store_source_free after the reader is closed. */
int dr_store_open_source(dr_store *s, const dr_store_entry *e, dr_bundle_source *src, void **ud_out,
                         dr_err *err);
void dr_store_source_free(void *ud);

/* Downloads a vault bundle to a local path (streamed, resumed on breaks by
 * dr_s3_get; written to a temporary beside dest and renamed). Local stores
 * copy the file. The size is checked against the listing. */
int dr_store_fetch(dr_store *s, const dr_store_entry *e, const char *dest_path, dr_err *err);

#endif
