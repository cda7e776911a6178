/*
 * restore.h - a bundle's data back into a region: the database, the bucket's
 * objects and the secrets, each idempotent (a resumed runbook may run any
 * step again and ends in the same state), and the checks that prove it.
 *
 * What restore promises:
 *   - Nothing is written anywhere (database, bucket, secret) before every
 *     bundle it reads from has been verified end to end (every segment, tar
 *     header and entry hash, the signed manifest): a damaged bundle is refused
 *     by dr_restore_chain_open with DR_E_VERIFY. Data is then read again from
 *     the same files by later passes, which check every entry once more, and
 *     nothing unverified is made visible: a database part reaches pg_restore,
 *     a small object its PUT, and a multipart upload its Complete only after
 *     that entry's SHA-256 matched the manifest.
 *   - Memory stays bounded whatever the sizes (about 64 MiB of object data in
 *     flight, one dump part of the bundle's part size, the indexes).
 *   - Secret values never reach a log line, an error message, argv or a file;
 *     buffers that held them are zeroed.
 *
 * Errors: DR_E_VERIFY for anything that does not match (a damaged bundle, an
 * index that disagrees with its bundles, table sums, objects), naming the
 * bundle, entry, table or key; DR_E_NOT_FOUND for a missing bundle, dump or
 * target secret; AWS and pg_restore failures as their modules report them.
 */
#ifndef DRCTL_RESTORE_RESTORE_H
#define DRCTL_RESTORE_RESTORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/client.h"
#include "backup/store.h"
#include "bundle/bundle.h"
#include "db/pg.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

/* Object data held in memory by dr_restore_objects at once (whole objects up
 * to the multipart threshold, parts of bigger ones), unless one part is
 * bigger (objects over 640 GiB). */
#define DR_RESTORE_MAX_BUFFERED (64u * 1024u * 1024u)
/* Multipart part size of restored objects (grown in whole MiB past 10,000
 * parts). Fixed so that a resumed restore recognises its own uploads. */
#define DR_RESTORE_PART_SIZE (8u * 1024u * 1024u)

/*
 * The bundles a restore needs: the one asked for and every earlier bundle its
 * objects index references (an incremental chain references only the bundles
 * that hold bytes, so a v3 whose unchanged objects live in v1 opens v1, not
 * v2), all opened with the keyring.
 *
 * Bundles of a local store are read in place. Bundles of an S3 store are
 * fetched whole to cache_dir first (dr_store_fetch, then every later pass is
 * local: a restore reads each bundle two or three times, which ranged GETs
 * would pay for each time); a file already in cache_dir named as in the store
 * whose SHA-256 equals the summary's file_sha256 is reused, anything else
 * there is fetched again. cache_dir (created 0700) is required for an S3
 * store and ignored for a local one; fetched bundles stay there for the next
 * run (they are as encrypted as in the store).
 *
 * Every bundle is verified before anything is restored from it (the asked
 * one in the same pass that reads its db/tables.json and s3/index.json), and
 * the index is checked against its bundles: every object's bundle is in the
 * chain (not newer than the asked one) and lists the object's entry with the
 * index's size and SHA-256, else DR_E_VERIFY naming the key. All bundles must
 * be of the same stack.
 */
typedef struct dr_restore_chain dr_restore_chain;
int dr_restore_chain_open(dr_store *store, const char *stack, uint64_t version,
                          const dr_bundle_keyring *kr, const char *cache_dir, const dr_log *log,
                          dr_restore_chain **out, dr_err *err);
void dr_restore_chain_free(dr_restore_chain *c);
/* Of the bundle asked for (borrowed, valid until free). */
const json_t *dr_restore_chain_manifest(const dr_restore_chain *c);
const dr_bundle_info *dr_restore_chain_info(const dr_restore_chain *c);
/* Its db/tables.json, or NULL when it has none. */
const json_t *dr_restore_chain_tables(const dr_restore_chain *c);
/* Its s3/index.json, or NULL when the stack had no bucket. */
const json_t *dr_restore_chain_index(const dr_restore_chain *c);
/* The recovery point (Unix seconds). */
int64_t dr_restore_chain_captured_at(const dr_restore_chain *c);
/* Versions of the bundles opened: [0] the asked one, then the referenced
 * ones in descending order. */
size_t dr_restore_chain_versions(const dr_restore_chain *c, const uint64_t **versions);
/* An entry of the asked bundle (e.g. "config/state/us-east-1.json") into
 * out, NUL-terminated (out is reset first). Read with a pass over the bundle
 * that stops after the entry and checks its SHA-256 before returning.
 * DR_E_NOT_FOUND when the bundle has no such entry; streamed entries and
 * secrets/secrets.enc are refused (DR_E_USAGE). */
int dr_restore_chain_read_entry(dr_restore_chain *c, const char *path, dr_buf *out, dr_err *err);

typedef struct dr_restore_db_result {
    size_t tables;
    int64_t rows;
    uint64_t dump_bytes;
    double seconds;
} dr_restore_db_result;

/*
 * Restores db/dump.pgc into the target database (which must exist) with
 * pg_restore --clean --if-exists --no-owner --no-privileges --exit-on-error,
 * so that running it twice (a resumed runbook) ends in the same state with no
 * duplicate rows:
 *   - jobs > 1: the dump is first written to a private file (mkstemp, 0600)
 *     in scratch_dir (NULL: $TMPDIR, else /tmp), which pg_restore -j needs
 *     (it seeks); the file holds table data and is removed on every path;
 *   - else streamed to pg_restore's stdin, one verified part at a time.
 * Then the per-table sums of the target (dr_pg_table_sums) are compared with
 * the bundle's db/tables.json: DR_E_VERIFY naming the first table that
 * differs. DR_E_NOT_FOUND when the bundle holds no dump. res may be NULL.
 */
int dr_restore_db(dr_restore_chain *c, const dr_pg_conn *target, int jobs, const char *scratch_dir,
                  const dr_log *log, dr_restore_db_result *res, dr_err *err);

typedef struct dr_restore_obj_result {
    size_t objects;      /* in the index */
    size_t uploaded;     /* written now */
    size_t skipped_same; /* already in the bucket with the same content */
    size_t extra;        /* in the bucket but not in the index: left alone */
    uint64_t bytes;      /* uploaded */
    double seconds;
} dr_restore_obj_result;

/*
 * Puts every object of the index into bucket (in region) with its content
 * type, content encoding, cache control, content disposition, user metadata,
 * storage class (when not STANDARD) and encryption: "AES256" as is; "aws:kms"
 * (and "aws:kms:dsse") with sse_kms_key_id, the target region's key, or, when
 * that is NULL, with no encryption header at all, so that the bucket's default
 * encryption applies (the source's key id is never sent: it is another
 * region's). Objects up to DR_S3_MULTIPART_THRESHOLD are one PUT whose payload
 * hash and x-amz-checksum-sha256 are the index's SHA-256 (S3 checks the bytes
 * itself); bigger ones are multipart uploads of DR_RESTORE_PART_SIZE parts
 * with a SHA-256 checksum per part, streamed from the bundle. `concurrency`
 * workers (0 = 8, at most 64) upload in parallel; the first failure stops
 * everything and aborts the multipart uploads in flight.
 *
 * Idempotent, with no marker metadata: an object already in the bucket with
 * the same size is skipped (skipped_same) when
 *   1. its ETag equals the index's ETag and that ETag is a content hash
 *      (the source was not SSE-KMS): the usual case, decided from the
 *      listing alone; else
 *   2. HEAD with x-amz-checksum-mode ENABLED returns an x-amz-checksum-sha256
 *      equal to the index's SHA-256 (every single-part upload of a restore
 *      carries it); else
 *   3. the bytes in the bundle, hashed as a restore would upload them, give
 *      its ETag (MD5, or the multipart MD5-of-MD5s for
 *      DR_RESTORE_PART_SIZE parts; not trusted on SSE-KMS objects) or its
 *      composite SHA-256 checksum: a resumed restore thus recognises its own
 *      multipart uploads by reading the bundle, not by uploading again.
 * Anything else is uploaded (over whatever is there). Objects in the bucket
 * that the index does not list are left alone, counted (extra) and named in
 * one warning. res may be NULL.
 */
int dr_restore_objects(dr_restore_chain *c, dr_aws *aws, const char *region, const char *bucket,
                       const char *sse_kms_key_id, int concurrency, const dr_log *log,
                       dr_restore_obj_result *res, dr_err *err);

/*
 * For each sealed secret (named by logical id, e.g. "DbSecret"), PutSecretValue
 * into the target secret whose ARN is the physical_id of that logical id in
 * target_resources (a state's "resources" object: {"DbSecret": {"type": ...,
 * "physical_id": ARN}, ...}), only when the current value (GetSecretValue
 * first) differs, so running it again changes nothing.
 *
 * JSON object secrets (the DbSecret {username, password, host, port, url,
 * ...}): "host", "port" and "url" are always the target's (they point at the
 * target's own database; absent when the target has none, never the
 * source's), every other member comes from the bundle (username, password,
 * ...), and the kept "url" gets its user:password part rewritten to the
 * restored credentials (a url holding the old password would not connect).
 * Members the target has but the bundle lacks are kept.
 * Values are compared as JSON, so member order does not count as a change.
 *
 * A secret the target lacks (not in target_resources, or ResourceNotFound)
 * fails with DR_E_NOT_FOUND naming every missing one (deploy first); the
 * names are all checked against target_resources before anything is written.
 * *restored counts values written, *unchanged values already equal (either
 * may be NULL). Values are never logged.
 */
int dr_restore_secrets(dr_restore_chain *c, dr_aws *aws, const char *region,
                       const json_t *target_resources, const dr_log *log, size_t *restored,
                       size_t *unchanged, dr_err *err);

/* The target's per-table sums equal the bundle's db/tables.json, else
 * DR_E_VERIFY naming the first table that differs. */
int dr_restore_verify_db(dr_restore_chain *c, const dr_pg_conn *target, dr_err *err);

/*
 * The bucket equals the index: the same set of keys (DR_E_VERIFY naming the
 * first missing or extra key and how many), and every object, downloaded and
 * hashed in parallel (concurrency workers, streamed: no object is held in
 * memory), has the index's size and SHA-256, content type and user metadata
 * (and content encoding, cache control and content disposition where the
 * index has them). The first object in key order that differs is named.
 * *checked (may be NULL) counts the objects compared.
 */
int dr_restore_verify_objects(dr_restore_chain *c, dr_aws *aws, const char *region,
                              const char *bucket, int concurrency, size_t *checked, dr_err *err);

#endif
