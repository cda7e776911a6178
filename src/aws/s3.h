/*
 * s3.h - the S3 calls drctl uses, on top of client.h.
 *
 * Object keys are raw (unicode, spaces, slashes allowed); encoding is the
 * client's job. Uploads of more than DR_S3_MULTIPART_THRESHOLD bytes use
 * multipart upload with parts of part_size bytes (>= 5 MiB), sent in
 * parallel, each part retried on its own; a failed multipart upload is
 * aborted so no parts are left billed.
 */
#ifndef DRCTL_AWS_S3_H
#define DRCTL_AWS_S3_H

#include <stdint.h>
#include <time.h>

#include "aws/client.h"

#define DR_S3_MULTIPART_THRESHOLD (16LL * 1024 * 1024)
#define DR_S3_MIN_PART (5LL * 1024 * 1024)

typedef struct dr_s3_object_info {
    char *key;
    int64_t size;
    char etag[80];          /* with the quotes removed */
    char last_modified[40]; /* as S3 gave it */
    char *content_type;     /* HEAD/GET only */
    char *version_id;       /* HEAD/GET only, may be NULL */
    dr_kvlist metadata;     /* x-amz-meta-* without the prefix; HEAD/GET only */
} dr_s3_object_info;

void dr_s3_object_info_free(dr_s3_object_info *o);

typedef struct dr_s3_put_opts {
    const char *content_type;   /* NULL = application/octet-stream */
    const dr_kvlist *metadata;  /* user metadata names without the x-amz-meta- prefix */
    const char *sse;            /* NULL, "AES256" or "aws:kms" */
    const char *sse_kms_key_id; /* with aws:kms, may be NULL */
    int64_t part_size;          /* multipart part size; 0 = 8 MiB */
    int concurrency;            /* parallel parts; 0 = 4 */
} dr_s3_put_opts;

/* Sends LocationConstraint outside us-east-1. A bucket that already exists
 * and is owned by the caller (BucketAlreadyOwnedByYou) counts as created. */
int dr_s3_create_bucket(dr_aws *c, const char *region, const char *bucket, dr_err *err);

/* Uploads `size` bytes from a file descriptor opened for reading at offset 0
 * (regular file: parts are read with pread, in parallel). */
int dr_s3_put_file(dr_aws *c, const char *region, const char *bucket, const char *key, int fd,
                   int64_t size, const dr_s3_put_opts *opts, dr_err *err);

/* Uploads a buffer in one PUT. */
int dr_s3_put_buffer(dr_aws *c, const char *region, const char *bucket, const char *key,
                     const void *data, size_t len, const dr_s3_put_opts *opts, dr_err *err);

/* Streams an object into `sink`; info (if non-NULL) receives its metadata
 * (initialised here; free with dr_s3_object_info_free). A missing object or
 * bucket fails with DR_E_NOT_FOUND (err->aws still holds S3's answer); this
 * holds for dr_s3_head too. A transfer that breaks is resumed from the
 * next byte of the same version (If-Match); if the object changed in
 * between, the call fails with DR_E_VERIFY and the sink has seen a prefix. */
int dr_s3_get(dr_aws *c, const char *region, const char *bucket, const char *key, dr_write_fn sink,
              void *sink_ud, dr_s3_object_info *info, dr_err *err);

int dr_s3_head(dr_aws *c, const char *region, const char *bucket, const char *key,
               dr_s3_object_info *info, dr_err *err);

int dr_s3_delete(dr_aws *c, const char *region, const char *bucket, const char *key, dr_err *err);

/* Lists every object under prefix (ListObjectsV2, following continuation
 * tokens); calls fn for each, stops on fn returning -1 (and then returns 0:
 * stopping is the caller's choice, not a failure). Keys are decoded
 * (encoding-type=url). The info passed to fn is valid during the call only;
 * content_type, version_id and metadata are not filled by a listing. */
typedef int (*dr_s3_list_fn)(void *ud, const dr_s3_object_info *o);
int dr_s3_list(dr_aws *c, const char *region, const char *bucket, const char *prefix,
               dr_s3_list_fn fn, void *ud, dr_err *err);

#endif
