/*
 * objects.h - a bucket's objects into a bundle, in parallel, with bounded
 * memory, full or incremental (the s3/ part of a backup).
 *
 * What a capture promises:
 *   - The bucket is listed once (ListObjectsV2); that listing is the
 *     recovery point of the objects ("captured_at") and decides everything.
 *   - Incremental: an object whose key, size and ETag equal its entry in the
 *     parent bundle's index is not downloaded; its index entry is copied from
 *     the parent, "bundle" included, so a chain of incrementals may reference
 *     a grandparent. Everything else is downloaded into this bundle.
 *   - Every download is of the listed version: each GET carries If-Match on
 *     the listed ETag, so an object overwritten (or deleted) after the
 *     listing fails the capture with DR_E_VERIFY "object s3://B/K changed
 *     during backup" instead of mixing versions. Objects bigger than
 *     chunk_size are fetched as ranged GETs of chunk_size bytes.
 *   - Content is checked: the bytes of an object uploaded in one part (ETag
 *     of 32 hex digits, no '-', not SSE-KMS, whose ETags are not MD5s) must
 *     have that MD5, else DR_E_VERIFY naming the key; the index records the
 *     SHA-256 of every object's bytes (the bundle checks its entries too).
 *   - Memory: at most max_buffered bytes of object data are held at once,
 *     whatever the object sizes (workers wait when the window is full), plus
 *     the listing and the index (a few hundred bytes per object).
 *   - The first failure (with the key it concerns) stops every transfer
 *     promptly and is returned; the bundle is then unusable (abort it).
 *   - Logging: one INFO line per object (-v), nothing per object below.
 *
 * Bundle entries: "s3/objects/<hex SHA-256 of the key>" per downloaded
 * object (keys may hold anything S3 allows; the hash is always a valid,
 * fixed-length bundle path), in key order, then "s3/index.json":
 *
 *   {"format": 1, "bucket": B, "region": R,
 *    "captured_at": "2024-05-01T12:00:00Z",      (when the listing started)
 *    "objects": [                                (sorted by key, bytewise)
 *      {"key": K, "size": N, "etag": E (no quotes), "sha256": hex of the bytes,
 *       "last_modified": as the listing gave it (ISO 8601),
 *       "content_type", "content_encoding", "cache_control",
 *       "content_disposition": string or null,
 *       "metadata": {user metadata, names without "x-amz-meta-"},
 *       "sse": "AES256" | "aws:kms" | null, "sse_kms_key_id": string or null,
 *       "storage_class": e.g. "STANDARD",
 *       "entry": "s3/objects/<hash>",
 *       "bundle": the version of the bundle that holds the bytes}, ...],
 *    "totals": {"objects", "bytes", "captured", "captured_bytes",
 *               "referenced", "referenced_bytes"}}
 *
 * Threads: `concurrency` workers, each with its own libcurl handle from the
 * client's pool (client_internal.h) and the client's retries per request;
 * the caller's thread writes the bundle. The client's own libcurl multi
 * interface is not used: the pool of easy handles already gives parallel
 * transfers with per-request retries, resumption and signing.
 */
#ifndef DRCTL_BACKUP_OBJECTS_H
#define DRCTL_BACKUP_OBJECTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/client.h"
#include "bundle/bundle.h"
#include "util/err.h"
#include "util/log.h"

#define DR_OBJECTS_INDEX_PATH "s3/index.json"
#define DR_OBJECTS_PREFIX "s3/objects/"
#define DR_OBJECTS_INDEX_FORMAT 1

typedef struct dr_objects_opts {
    dr_aws *aws;                 /* listing and sequential calls */
    const dr_aws_opts *aws_opts; /* unused: the workers take handles from aws's pool */
    const char *region;
    const char *bucket;
    int concurrency;            /* parallel transfers; 0 = 8 (at most 64) */
    size_t chunk_size;          /* ranged GET size for big objects; 0 = 8 MiB */
    size_t max_buffered;        /* bytes held in memory awaiting the writer; 0 = 16 MiB */
    const json_t *parent_index; /* the parent bundle's s3/index.json, or NULL for a full capture */
    uint64_t version;           /* this bundle's version (written into index entries it holds) */
    const dr_log *log;
} dr_objects_opts;

typedef struct dr_objects_result {
    size_t listed;     /* current objects in the bucket */
    size_t captured;   /* downloaded into this bundle */
    size_t referenced; /* unchanged since the parent: referenced, not downloaded */
    uint64_t bytes_captured;
    uint64_t bytes_total; /* sum of sizes of all current objects */
} dr_objects_result;

/* Lists the bucket (ListObjectsV2), decides per object, downloads the changed ones in parallel and
 * adds each as entry "s3/objects/<hex sha256 of the key>" (the key itself may hold anything S3
 * allows), then adds "s3/index.json". *index_out (may be NULL) receives the index (new ref).
 * `res` may be NULL. A parent index of another bucket is ignored (with a warning): everything is
 * then captured. */
int dr_objects_capture(dr_bundle_writer *w, const dr_objects_opts *o, json_t **index_out,
                       dr_objects_result *res, dr_err *err);

/* "s3/objects/<hex SHA-256 of key>" into out (at least 76 bytes). */
void dr_objects_entry_path(const char *key, char out[76]);

#endif
