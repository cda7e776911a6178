/*
 * reader.c - opening, verifying and streaming a bundle.
 *
 * Open reads only the ends of the file: the header (encrypted bundles), the
 * footer, and the tail frame it points to (secrets entry, MANIFEST.json,
 * MANIFEST.sig). Once the manifest's signature checks out, every later byte
 * is judged against it: a scan decrypts or hash-checks each 1 MiB segment
 * BEFORE it is decompressed, so damage is reported as "segment N" and never
 * reaches zstd or libarchive, then checks every tar header against the
 * manifest (order, path, type, size) before any of its data is handed out,
 * and every entry's SHA-256 at its end.
 *
 * The plain stream is the same for both kinds of bundle: the file itself
 * for an unencrypted bundle, the decrypted segments for an encrypted one.
 * Segment i and footer chunk i cover the same plain-stream bytes.
 */
#include "bundle/bundle_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "util/mem.h"

#define TAIL_MAX_COMPRESSED (256u * 1024u * 1024u)
#define TAIL_MAX_PLAIN (1024u * 1024u * 1024u)

typedef struct rentry {
    const char *path; /* borrowed from the manifest JSON */
    const char *stream;
    unsigned part;
    int last_part;
    uint64_t size;
    unsigned char sha[32];
    const char *sha_hex;
    unsigned mode;
    int64_t mtime;
} rentry;

typedef struct file_src {
    int fd;
    char *path;
} file_src;

struct dr_bundle_reader {
    dr_bundle_source src;
    file_src *file; /* when opened by path */
    int encrypted;
    dr_seal_r seal;
    unsigned char key[DR_BUNDLE_KEY_LEN];
    int have_key;
    unsigned char kman[32];
    uint64_t plain_size;

    unsigned char *footer_bytes;
    size_t footer_len;
    dr_footer footer;
    int check_chunks;

    char *manifest_bytes;
    size_t manifest_len;
    unsigned char manifest_sha[32];
    char *sig_bytes;
    size_t sig_len;
    unsigned char sig_sha[32];
    json_t *manifest;
    rentry *ents;
    size_t n_ents;
    unsigned char *secrets_blob;
    size_t secrets_len;

    dr_bundle_info info;
    char *opened_with;
    char *captured_text;

    unsigned char *ct;  /* one segment of ciphertext */
    unsigned char *seg; /* one segment of plain stream */
    size_t seg_len;
    uint64_t seg_index; /* which segment seg holds; UINT64_MAX = none */

    /* scan state, for the libarchive read callback */
    ZSTD_DCtx *dctx;
    ZSTD_inBuffer zin;
    size_t zret;
    int zpending;
    uint64_t next_chunk;
    unsigned char *dbuf;
    size_t dbuf_cap;
    const char *cur_entry; /* for messages */
    dr_err cb_err;
    int cb_failed;
};

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- sources ------------------------------------------------------------ */

static int file_pread(void *ud, void *buf, size_t n, uint64_t off, dr_err *err)
{
    file_src *f = ud;
    char *c = buf;
    while (n) {
        ssize_t k = pread(f->fd, c, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return dr_err_set(err, DR_E_IO, "reading %s at byte %llu: %s", f->path,
                              (unsigned long long)off,
                              k < 0 ? strerror(errno) : "unexpected end of file");
        c += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int src_read(dr_bundle_reader *r, void *buf, size_t n, uint64_t off, dr_err *err)
{
    if (off > r->src.size || n > r->src.size - off)
        return dr_err_set(err, DR_E_VERIFY, "truncated: the bundle ends before byte %llu",
                          (unsigned long long)(off + n));
    return r->src.pread(r->src.ud, buf, n, off, err);
}

/* ---- the plain stream ---------------------------------------------------- */

/* Segment i of the plain stream, checked: GCM for an encrypted bundle, the
 * footer's chunk hash for an unencrypted one (once the footer is known). */
static int get_segment(dr_bundle_reader *r, uint64_t i, dr_err *err)
{
    if (r->seg_index == i)
        return 0;
    r->seg_index = UINT64_MAX;
    const uint64_t C = DR_BUNDLE_SEGMENT_SIZE;
    if (r->encrypted) {
        uint64_t off;
        size_t ct_len;
        if (i >= r->seal.n_segments)
            return dr_err_set(err, DR_E_INTERNAL, "segment %llu is past the end",
                              (unsigned long long)i);
        dr_seal_r_segment(&r->seal, i, &off, &ct_len);
        if (src_read(r, r->ct, ct_len, off, err) != 0 ||
            dr_seal_r_open(&r->seal, i, r->ct, ct_len, r->seg, &r->seg_len, "segment", err) != 0)
            return -1;
    } else {
        uint64_t off = i * C;
        if (off >= r->plain_size)
            return dr_err_set(err, DR_E_INTERNAL, "segment %llu is past the end",
                              (unsigned long long)i);
        size_t n = (size_t)(r->plain_size - off < C ? r->plain_size - off : C);
        if (src_read(r, r->seg, n, off, err) != 0)
            return -1;
        r->seg_len = n;
        if (r->check_chunks && i < r->footer.n_chunks) {
            uint64_t end = off + n > r->footer.stream_len ? r->footer.stream_len : off + n;
            unsigned char h[32];
            dr_bk_sha256(r->seg, (size_t)(end - off), h);
            if (!dr_bk_equal(h, r->footer.hashes + 32 * i, 32))
                return dr_err_set(err, DR_E_VERIFY,
                                  "segment %llu (bytes %llu-%llu): SHA-256 mismatch: the bundle "
                                  "is damaged there",
                                  (unsigned long long)i, (unsigned long long)off,
                                  (unsigned long long)(end - 1));
        }
    }
    r->seg_index = i;
    return 0;
}

static int plain_read(dr_bundle_reader *r, unsigned char *out, size_t n, uint64_t off, dr_err *err)
{
    const uint64_t C = DR_BUNDLE_SEGMENT_SIZE;
    if (off > r->plain_size || n > r->plain_size - off)
        return dr_err_set(err, DR_E_VERIFY, "truncated: the bundle ends before byte %llu",
                          (unsigned long long)(off + n));
    while (n) {
        uint64_t i = off / C;
        if (get_segment(r, i, err) != 0)
            return -1;
        size_t in = (size_t)(off - i * C);
        size_t k = r->seg_len - in < n ? r->seg_len - in : n;
        memcpy(out, r->seg + in, k);
        out += k;
        off += k;
        n -= k;
    }
    return 0;
}

/* ---- open ----------------------------------------------------------------- */

void dr_bundle_reader_close(dr_bundle_reader *r)
{
    if (!r)
        return;
    if (r->file) {
        if (r->file->fd >= 0)
            close(r->file->fd);
        free(r->file->path);
        free(r->file);
    }
    dr_seal_r_free(&r->seal);
    OPENSSL_cleanse(r->key, sizeof(r->key));
    OPENSSL_cleanse(r->kman, sizeof(r->kman));
    free(r->footer_bytes);
    free(r->manifest_bytes);
    free(r->sig_bytes);
    json_decref(r->manifest);
    free(r->ents);
    free(r->secrets_blob);
    free(r->opened_with);
    free(r->captured_text);
    free(r->ct);
    if (r->seg) {
        OPENSSL_cleanse(r->seg, DR_BUNDLE_SEGMENT_SIZE);
        free(r->seg);
    }
    ZSTD_freeDCtx(r->dctx);
    free(r->dbuf);
    free(r);
}

static int read_footer(dr_bundle_reader *r, dr_err *err)
{
    unsigned char tail[12];
    if (r->plain_size < DR_FOOTER_FIXED)
        return dr_err_set(err, DR_E_VERIFY,
                          "footer: missing (the bundle is too short: "
                          "truncated, or not a drctl bundle)");
    if (plain_read(r, tail, sizeof(tail), r->plain_size - sizeof(tail), err) != 0)
        return -1;
    uint32_t flen = dr_footer_len_from_tail(tail);
    if (flen == 0 || flen > r->plain_size)
        return dr_err_set(err, DR_E_VERIFY,
                          "footer: missing or damaged at the end of the bundle (truncated, "
                          "or not a drctl bundle)");
    r->footer_len = flen;
    r->footer_bytes = dr_xmalloc(flen);
    if (plain_read(r, r->footer_bytes, flen, r->plain_size - flen, err) != 0 ||
        dr_footer_decode(r->footer_bytes, flen, &r->footer, err) != 0)
        return -1;
    const uint64_t C = DR_BUNDLE_SEGMENT_SIZE;
    if (r->footer.stream_len != r->plain_size - flen)
        return dr_err_set(err, DR_E_VERIFY,
                          "footer: it says the stream is %llu bytes, the bundle has %llu: "
                          "truncated or extended",
                          (unsigned long long)r->footer.stream_len,
                          (unsigned long long)(r->plain_size - flen));
    uint64_t want = r->encrypted ? 0 : (r->footer.stream_len + C - 1) / C;
    if (r->footer.n_chunks != want)
        return dr_err_set(err, DR_E_VERIFY, "footer: %llu chunk hashes where %llu belong",
                          (unsigned long long)r->footer.n_chunks, (unsigned long long)want);
    r->check_chunks = !r->encrypted;
    /* The footer's own segment was read before chunk checks were on. */
    r->seg_index = UINT64_MAX;
    return 0;
}

typedef struct mem_tar {
    const char *name;
    unsigned char **data;
    size_t *len;
} mem_tar;

static int read_tail(dr_bundle_reader *r, dr_err *err)
{
    uint64_t clen = r->footer.stream_len - r->footer.tail_offset;
    if (clen > TAIL_MAX_COMPRESSED)
        return dr_err_set(err, DR_E_VERIFY, "footer: the tail is %llu bytes, more than allowed",
                          (unsigned long long)clen);
    unsigned char *comp = dr_xmalloc((size_t)clen);
    if (plain_read(r, comp, (size_t)clen, r->footer.tail_offset, err) != 0) {
        free(comp);
        return dr_err_wrap(err, "reading the tail (manifest)");
    }
    /* Decompress the tail frame. */
    ZSTD_DCtx *d = ZSTD_createDCtx();
    dr_buf plain = DR_BUF_INIT;
    ZSTD_inBuffer in = {comp, (size_t)clen, 0};
    size_t ret = 1;
    unsigned char *out = dr_xmalloc(ZSTD_DStreamOutSize());
    int rc = 0;
    while (rc == 0 && (in.pos < in.size || ret != 0)) {
        ZSTD_outBuffer o = {out, ZSTD_DStreamOutSize(), 0};
        size_t before = in.pos;
        ret = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(ret))
            rc = dr_err_set(err, DR_E_VERIFY, "tail frame (manifest): zstd: %s",
                            ZSTD_getErrorName(ret));
        else if (plain.len + o.pos > TAIL_MAX_PLAIN)
            rc = dr_err_set(err, DR_E_VERIFY, "tail frame (manifest): too large");
        else if (o.pos == 0 && before == in.pos && ret != 0)
            rc = dr_err_set(err, DR_E_VERIFY, "tail frame (manifest): truncated zstd frame");
        else
            dr_buf_append(&plain, out, o.pos);
    }
    free(out);
    free(comp);
    ZSTD_freeDCtx(d);
    if (rc != 0) {
        dr_buf_free(&plain);
        return -1;
    }

    /* The tail's tar entries: [secrets], MANIFEST.json, MANIFEST.sig. */
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, plain.data ? plain.data : "", plain.len) != ARCHIVE_OK) {
        archive_read_free(a);
        dr_buf_free(&plain);
        return dr_err_set(err, DR_E_VERIFY, "tail frame (manifest): not a tar stream");
    }
    mem_tar want[3] = {{DR_BUNDLE_SECRETS_PATH, &r->secrets_blob, &r->secrets_len},
                       {DR_MANIFEST_PATH, (unsigned char **)&r->manifest_bytes, &r->manifest_len},
                       {DR_MANIFEST_SIG_PATH, (unsigned char **)&r->sig_bytes, &r->sig_len}};
    size_t w = 0;
    struct archive_entry *ae;
    int h;
    while (rc == 0 && (h = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(ae);
        while (w < 3 && p && strcmp(p, want[w].name) != 0 && w == 0)
            w++; /* no secrets entry */
        if (w >= 3 || !p || strcmp(p, want[w].name) != 0 ||
            archive_entry_filetype(ae) != AE_IFREG || archive_entry_size(ae) < 0 ||
            (uint64_t)archive_entry_size(ae) > TAIL_MAX_PLAIN) {
            rc = dr_err_set(err, DR_E_VERIFY, "tail frame: unexpected entry '%s'",
                            p ? p : "(unnamed)");
            break;
        }
        size_t n = (size_t)archive_entry_size(ae);
        unsigned char *buf = dr_xmalloc(n + 1);
        size_t got = 0;
        while (got < n) {
            la_ssize_t k = archive_read_data(a, buf + got, n - got);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        if (got != n) {
            free(buf);
            rc = dr_err_set(err, DR_E_VERIFY, "tail frame: entry '%s' is short", p);
            break;
        }
        buf[n] = 0;
        *want[w].data = buf;
        *want[w].len = n;
        w++;
    }
    if (rc == 0 && h != ARCHIVE_EOF)
        rc = dr_err_set(err, DR_E_VERIFY, "tail frame: damaged tar data: %s",
                        archive_error_string(a) ? archive_error_string(a) : "?");
    if (rc == 0 && (!r->manifest_bytes || !r->sig_bytes))
        rc = dr_err_set(err, DR_E_VERIFY, "tail frame: MANIFEST.json or MANIFEST.sig missing");
    archive_read_free(a);
    dr_buf_free(&plain);
    return rc;
}

static int check_signature(dr_bundle_reader *r, dr_err *err)
{
    json_error_t je;
    json_t *sig = json_loadb(r->sig_bytes, r->sig_len, JSON_REJECT_DUPLICATES, &je);
    unsigned char want[32], mac[32], sha[32];
    int ok = sig && jstr(sig, "alg") && strcmp(jstr(sig, "alg"), "HMAC-SHA256") == 0 &&
             dr_bk_unhex(jstr(sig, "mac"), want, 32) == 0 &&
             dr_bk_unhex(jstr(sig, "manifest_sha256"), sha, 32) == 0;
    json_decref(sig);
    if (!ok)
        return dr_err_set(err, DR_E_VERIFY, "manifest: MANIFEST.sig is malformed");
    if (!dr_bk_equal(sha, r->manifest_sha, 32))
        return dr_err_set(err, DR_E_VERIFY, "manifest: MANIFEST.sig is for another manifest");
    if (!r->have_key)
        return 0;
    dr_bk_hmac(r->kman, r->manifest_bytes, r->manifest_len, mac);
    if (!dr_bk_equal(mac, want, 32))
        return dr_err_set(err, DR_E_VERIFY,
                          "manifest: signature mismatch (MANIFEST.json was altered, or signed "
                          "with another key)");
    if (!dr_footer_mac_ok(r->footer_bytes, r->footer_len, r->kman))
        return dr_err_set(err, DR_E_VERIFY, "footer: authentication failed (altered)");
    return 0;
}

static int bad_entry(dr_err *err, size_t i, const char *path, const char *why)
{
    return dr_err_set(err, DR_E_VERIFY, "manifest: entry %zu '%s' refused: %s", i + 1,
                      path ? path : "(no path)", why);
}

/* Everything the scan and extraction rely on is checked here, before a byte
 * of data is read: a bad path or type in a signed manifest (a forged bundle)
 * is refused at open. */
static int check_manifest(dr_bundle_reader *r, dr_err *err)
{
    json_t *m = r->manifest;
    const json_t *ver = json_object_get(m, "bundle_version");
    const json_t *par = json_object_get(m, "parent_version");
    const char *kind = jstr(m, "kind"), *enc = jstr(m, "encryption");
    if (!jstr(m, "format") || strcmp(jstr(m, "format"), "drctl-bundle") != 0 ||
        json_integer_value(json_object_get(m, "format_version")) != DR_BUNDLE_FORMAT_VERSION)
        return dr_err_set(err, DR_E_VERIFY, "manifest: not a version %d drctl-bundle manifest",
                          DR_BUNDLE_FORMAT_VERSION);
    int64_t captured;
    if (!jstr(m, "stack") || !jstr(m, "source_region") || !json_is_integer(ver) ||
        json_integer_value(ver) < 1 || !(json_is_null(par) || json_is_integer(par)) || !kind ||
        !enc || dr_bk_time_parse(jstr(m, "captured_at"), &captured) != 0 ||
        !json_is_array(json_object_get(m, "entries")) ||
        !json_is_array(json_object_get(m, "streams")))
        return dr_err_set(err, DR_E_VERIFY, "manifest: missing or malformed members");
    if (strcmp(enc, r->encrypted ? "aes-256-gcm" : "none") != 0)
        return dr_err_set(err, DR_E_VERIFY, "manifest: says encryption '%s', the file is %s", enc,
                          r->encrypted ? "encrypted" : "not encrypted");
    if (dr_bk_wraps_check(json_object_get(m, "key_wraps"), err) != 0)
        return dr_err_wrap(err, "manifest");
    if (r->encrypted && (strcmp(jstr(m, "stack"), r->seal.stack) != 0 ||
                         (uint64_t)json_integer_value(ver) != r->seal.version ||
                         !json_equal(json_object_get(m, "key_wraps"), (json_t *)r->seal.wraps)))
        return dr_err_set(err, DR_E_VERIFY,
                          "manifest: stack, version or key wraps differ from the header's");

    const json_t *ents = json_object_get(m, "entries");
    const json_t *streams = json_object_get(m, "streams");
    r->n_ents = json_array_size(ents);
    r->ents = dr_xcalloc(r->n_ents ? r->n_ents : 1, sizeof(rentry));
    dr_strset files = {0}, dirs = {0};
    int rc = 0;
    char why[200];
    uint64_t total = 0;
    for (size_t i = 0; rc == 0 && i < r->n_ents; i++) {
        const json_t *e = json_array_get(ents, i);
        rentry *re = &r->ents[i];
        re->path = jstr(e, "path");
        const char *type = jstr(e, "type");
        const json_t *size = json_object_get(e, "size"), *mode = json_object_get(e, "mode"),
                     *mtime = json_object_get(e, "mtime");
        re->sha_hex = jstr(e, "sha256");
        if (type && strcmp(type, "file") != 0) {
            snprintf(why, sizeof(why), "type '%.40s' (only regular files are allowed)", type);
            rc = bad_entry(err, i, re->path, why);
        } else if (!re->path || dr_bk_path_check(re->path, why, sizeof(why)) != 0) {
            rc = bad_entry(err, i, re->path, re->path ? why : "no path");
        } else if (!json_is_integer(size) || json_integer_value(size) < 0 ||
                   !json_is_integer(mode) || json_integer_value(mode) < 0 ||
                   json_integer_value(mode) > 07777 || !json_is_integer(mtime) ||
                   dr_bk_unhex(re->sha_hex, re->sha, 32) != 0) {
            rc = bad_entry(err, i, re->path, "bad size, mode, mtime or sha256");
        } else if (dr_bk_tree_add(&files, &dirs, re->path, why, sizeof(why)) != 0) {
            rc = bad_entry(err, i, re->path, why);
        } else {
            re->size = (uint64_t)json_integer_value(size);
            re->mode = (unsigned)json_integer_value(mode);
            re->mtime = json_integer_value(mtime);
            re->stream = jstr(e, "stream");
            re->part = (unsigned)json_integer_value(json_object_get(e, "part"));
            total += re->size;
            char sname[4200];
            unsigned pn = 0;
            int is_part = dr_bundle_part_name(re->path, sname, sizeof(sname), &pn);
            if (is_part != (re->stream != NULL) ||
                (is_part && (strcmp(sname, re->stream) != 0 || pn != re->part)))
                rc = bad_entry(err, i, re->path, "part name and stream members disagree");
            if (rc == 0 && strcmp(re->path, DR_BUNDLE_SECRETS_PATH) == 0 && i + 1 != r->n_ents)
                rc = bad_entry(err, i, re->path, "the secrets entry must be the last");
        }
    }
    /* Streams: parts 1..n of each, consecutive, sizes adding up. */
    size_t si;
    const json_t *s;
    json_array_foreach(streams, si, s)
    {
        if (rc != 0)
            break;
        const char *sp = jstr(s, "path");
        json_int_t parts = json_integer_value(json_object_get(s, "parts"));
        json_int_t ssize = json_integer_value(json_object_get(s, "size"));
        if (!sp || dr_bk_path_check(sp, why, sizeof(why)) != 0 || parts < 1) {
            rc = dr_err_set(err, DR_E_VERIFY, "manifest: stream %zu is malformed", si + 1);
            break;
        }
        size_t first = r->n_ents;
        for (size_t i = 0; i < r->n_ents; i++)
            if (r->ents[i].stream && strcmp(r->ents[i].stream, sp) == 0) {
                first = i;
                break;
            }
        uint64_t sum = 0;
        for (json_int_t k = 0; rc == 0 && k < parts; k++) {
            size_t i = first + (size_t)k;
            if (i >= r->n_ents || !r->ents[i].stream || strcmp(r->ents[i].stream, sp) != 0 ||
                r->ents[i].part != (unsigned)k + 1)
                rc = dr_err_set(err, DR_E_VERIFY,
                                "manifest: stream '%s': part %lld missing or out of order", sp,
                                (long long)k + 1);
            else
                sum += r->ents[i].size;
        }
        if (rc == 0 && sum != (uint64_t)ssize)
            rc = dr_err_set(err, DR_E_VERIFY,
                            "manifest: stream '%s': parts add up to %llu, "
                            "not %lld",
                            sp, (unsigned long long)sum, (long long)ssize);
        if (rc == 0)
            r->ents[first + (size_t)parts - 1].last_part = 1;
    }
    for (size_t i = 0; rc == 0 && i < r->n_ents; i++)
        if (r->ents[i].stream && !r->ents[i].last_part &&
            (i + 1 == r->n_ents || !r->ents[i + 1].stream ||
             strcmp(r->ents[i + 1].stream, r->ents[i].stream) != 0))
            rc = bad_entry(err, i, r->ents[i].path,
                           "a part of a stream the manifest does not "
                           "list");
    dr_strset_free(&files);
    dr_strset_free(&dirs);
    if (rc != 0)
        return -1;

    /* The secrets entry: in the tail iff the manifest says so. */
    const json_t *sec = json_object_get(m, "secrets");
    int listed = r->n_ents && strcmp(r->ents[r->n_ents - 1].path, DR_BUNDLE_SECRETS_PATH) == 0;
    if ((!json_is_null(sec)) != listed || (r->secrets_blob != NULL) != listed)
        return dr_err_set(err, DR_E_VERIFY,
                          "manifest: the secrets entry, the 'secrets' member and the tail "
                          "disagree");
    if (listed) {
        unsigned char h[32];
        dr_bk_sha256(r->secrets_blob, r->secrets_len, h);
        const rentry *se = &r->ents[r->n_ents - 1];
        if (se->size != r->secrets_len || !dr_bk_equal(h, se->sha, 32))
            return dr_err_set(err, DR_E_VERIFY, "entry '%s': SHA-256 mismatch in the tail",
                              DR_BUNDLE_SECRETS_PATH);
    }

    dr_bundle_info *in = &r->info;
    in->stack = jstr(m, "stack");
    in->source_region = jstr(m, "source_region");
    in->version = (uint64_t)json_integer_value(ver);
    in->parent = json_is_integer(par) ? (uint64_t)json_integer_value(par) : 0;
    in->kind = strcmp(kind, "incremental") == 0 ? DR_BUNDLE_INCREMENTAL : DR_BUNDLE_FULL;
    in->encrypted = r->encrypted;
    in->authenticated = r->have_key;
    in->captured_at = captured;
    in->captured_at_text = jstr(m, "captured_at");
    in->n_entries = r->n_ents;
    in->data_bytes = total;
    in->opened_with = r->opened_with ? r->opened_with : "none";
    return 0;
}

static int reader_open(dr_bundle_reader *r, const dr_bundle_keyring *kr, dr_err *err)
{
    unsigned char first[DR_SEAL_FIXED];
    r->seg_index = UINT64_MAX;
    r->seg = dr_xmalloc(DR_BUNDLE_SEGMENT_SIZE);
    if (r->src.size < DR_SEAL_FIXED)
        return dr_err_set(err, DR_E_VERIFY, "truncated, or not a drctl bundle: only %llu bytes",
                          (unsigned long long)r->src.size);
    if (src_read(r, first, sizeof(first), 0, err) != 0)
        return -1;
    static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (memcmp(first, DR_SEAL_MAGIC, 8) == 0) {
        r->encrypted = 1;
        uint64_t hl;
        if (dr_seal_r_header_len(first, &hl, err) != 0)
            return -1;
        if (hl > r->src.size)
            return dr_err_set(err, DR_E_VERIFY, "header: truncated");
        unsigned char *hdr = dr_xmalloc((size_t)hl);
        int rc = src_read(r, hdr, (size_t)hl, 0, err);
        if (rc == 0)
            rc = dr_seal_r_parse(&r->seal, hdr, (size_t)hl, r->src.size, err);
        free(hdr);
        if (rc != 0)
            return -1;
        if (dr_bk_unwrap(r->seal.wraps, kr, r->seal.stack, r->seal.version, r->key, &r->opened_with,
                         err) != 0)
            return -1;
        r->have_key = 1;
        if (dr_seal_r_key(&r->seal, r->key, err) != 0)
            return -1;
        r->plain_size = r->seal.plain_size;
        r->ct = dr_xmalloc(DR_BUNDLE_SEGMENT_SIZE + DR_SEAL_TAG_LEN);
    } else if (memcmp(first, zstd_magic, 4) == 0) {
        r->plain_size = r->src.size;
    } else {
        return dr_err_set(err, DR_E_VERIFY,
                          "not a drctl bundle: neither an encrypted bundle (DRCTLENC) nor a "
                          "zstd stream");
    }
    if (read_footer(r, err) != 0 || read_tail(r, err) != 0)
        return -1;
    dr_bk_sha256(r->manifest_bytes, r->manifest_len, r->manifest_sha);
    dr_bk_sha256(r->sig_bytes, r->sig_len, r->sig_sha);
    json_error_t je;
    r->manifest = json_loadb(r->manifest_bytes, r->manifest_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(r->manifest))
        return dr_err_set(err, DR_E_VERIFY, "manifest: not valid JSON: %s (line %d)", je.text,
                          je.line);
    if (!r->encrypted) {
        const json_t *wraps = json_object_get(r->manifest, "key_wraps");
        const char *stack = jstr(r->manifest, "stack");
        json_int_t ver = json_integer_value(json_object_get(r->manifest, "bundle_version"));
        if (!stack || ver < 1 || dr_bk_wraps_check(wraps, err) != 0)
            return dr_err_set(err, DR_E_VERIFY, "manifest: no stack, version or key wraps");
        dr_err e2;
        dr_err_clear(&e2);
        if (dr_bk_unwrap(wraps, kr, stack, (uint64_t)ver, r->key, &r->opened_with, &e2) == 0) {
            r->have_key = 1;
        } else if (!kr || !kr->allow_unauthenticated) {
            *err = e2;
            return -1;
        }
    }
    if (r->have_key)
        dr_bk_hkdf(r->key, NULL, 0, DR_BK_INFO_MANIFEST, r->kman);
    if (check_signature(r, err) != 0 || check_manifest(r, err) != 0)
        return -1;
    if (!r->opened_with)
        r->opened_with = dr_xstrdup("none (integrity checked, signature not checked)");
    r->info.opened_with = r->opened_with;
    return 0;
}

int dr_bundle_reader_open_source(const dr_bundle_source *src, const dr_bundle_keyring *kr,
                                 dr_bundle_reader **out, dr_err *err)
{
    *out = NULL;
    dr_bundle_reader *r = dr_xcalloc(1, sizeof(*r));
    r->src = *src;
    if (reader_open(r, kr, err) != 0) {
        dr_bundle_reader_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

int dr_bundle_reader_open(const char *path, const dr_bundle_keyring *kr, dr_bundle_reader **out,
                          dr_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return dr_err_set(err, e == ENOENT ? DR_E_NOT_FOUND : DR_E_IO, "bundle %s: %s", path,
                          strerror(e));
    }
    dr_bundle_reader *r = dr_xcalloc(1, sizeof(*r));
    r->file = dr_xcalloc(1, sizeof(*r->file));
    r->file->fd = fd;
    r->file->path = dr_xstrdup(path);
    r->src.size = (uint64_t)st.st_size;
    r->src.pread = file_pread;
    r->src.ud = r->file;
    if (reader_open(r, kr, err) != 0) {
        dr_err_wrap(err, "bundle %s", path);
        dr_bundle_reader_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

const dr_bundle_info *dr_bundle_reader_info(const dr_bundle_reader *r)
{
    return &r->info;
}

const json_t *dr_bundle_reader_manifest(const dr_bundle_reader *r)
{
    return r->manifest;
}

/* ---- scan ---------------------------------------------------------------- */

static la_ssize_t scan_read(struct archive *a, void *ud, const void **buf)
{
    dr_bundle_reader *r = ud;
    const uint64_t C = DR_BUNDLE_SEGMENT_SIZE;
    for (;;) {
        if (r->zin.pos < r->zin.size || r->zpending) {
            ZSTD_outBuffer out = {r->dbuf, r->dbuf_cap, 0};
            size_t ret = ZSTD_decompressStream(r->dctx, &out, &r->zin);
            if (ZSTD_isError(ret)) {
                /* Segments are checked before this: only a bundle written
                 * wrongly and then signed gets here. */
                dr_err_set(&r->cb_err, DR_E_VERIFY, "segment %llu: zstd: %s (near entry '%s')",
                           (unsigned long long)(r->next_chunk - 1), ZSTD_getErrorName(ret),
                           r->cur_entry ? r->cur_entry : "(start)");
                r->cb_failed = 1;
                return -1;
            }
            r->zret = ret;
            r->zpending = out.pos == out.size;
            if (out.pos) {
                *buf = r->dbuf;
                return (la_ssize_t)out.pos;
            }
            continue;
        }
        uint64_t off = r->next_chunk * C;
        if (off >= r->footer.stream_len) {
            if (r->zret != 0) {
                dr_err_set(&r->cb_err, DR_E_VERIFY,
                           "the compressed stream ends inside a zstd frame (near entry '%s')",
                           r->cur_entry ? r->cur_entry : "(start)");
                r->cb_failed = 1;
                return -1;
            }
            return 0;
        }
        if (get_segment(r, r->next_chunk, &r->cb_err) != 0) {
            if (r->cur_entry)
                dr_err_wrap(&r->cb_err, "while reading entry '%s'", r->cur_entry);
            r->cb_failed = 1;
            return -1;
        }
        uint64_t end =
            off + r->seg_len > r->footer.stream_len ? r->footer.stream_len : off + r->seg_len;
        r->zin.src = r->seg;
        r->zin.size = (size_t)(end - off);
        r->zin.pos = 0;
        r->next_chunk++;
    }
}

static int scan_fail(dr_bundle_reader *r, struct archive *a, const char *what, dr_err *err)
{
    if (r->cb_failed) {
        *err = r->cb_err;
        return -1;
    }
    return dr_err_set(err, DR_E_VERIFY, "%s: %s", what,
                      archive_error_string(a) ? archive_error_string(a) : "damaged tar data");
}

static const char *type_name(mode_t t)
{
    switch (t) {
    case AE_IFLNK:
        return "symbolic link";
    case AE_IFDIR:
        return "directory";
    case AE_IFCHR:
        return "character device";
    case AE_IFBLK:
        return "block device";
    case AE_IFIFO:
        return "fifo";
    case AE_IFSOCK:
        return "socket";
    default:
        return "unknown type";
    }
}

/* The header of tar entry i, checked before any of its data is read. */
static int check_header(dr_bundle_reader *r, struct archive_entry *ae, size_t i,
                        const char *want_path, uint64_t want_size, dr_err *err)
{
    const char *p = archive_entry_pathname_utf8(ae);
    if (!p)
        p = archive_entry_pathname(ae);
    if (!p)
        return dr_err_set(err, DR_E_VERIFY, "entry %zu: tar header without a usable path", i + 1);
    char why[200];
    if (archive_entry_hardlink(ae))
        return dr_err_set(err, DR_E_VERIFY, "entry %zu '%s' refused: a hard link", i + 1, p);
    if (archive_entry_symlink(ae) || archive_entry_filetype(ae) != AE_IFREG)
        return dr_err_set(err, DR_E_VERIFY, "entry %zu '%s' refused: a %s", i + 1, p,
                          archive_entry_symlink(ae) ? "symbolic link"
                                                    : type_name(archive_entry_filetype(ae)));
    if (i < r->n_ents && dr_bk_path_check(p, why, sizeof(why)) != 0)
        return dr_err_set(err, DR_E_VERIFY, "entry %zu '%s' refused: %s", i + 1, p, why);
    if (strcmp(p, want_path) != 0)
        return dr_err_set(err, DR_E_VERIFY,
                          "entry %zu: the tar stream has '%s' where the manifest lists '%s'", i + 1,
                          p, want_path);
    if (!archive_entry_size_is_set(ae) || archive_entry_size(ae) < 0 ||
        (uint64_t)archive_entry_size(ae) != want_size)
        return dr_err_set(
            err, DR_E_VERIFY, "entry %zu '%s': the tar header says %lld bytes, the manifest %llu",
            i + 1, p, (long long)archive_entry_size(ae), (unsigned long long)want_size);
    return 0;
}

static int scan(dr_bundle_reader *r, const dr_bundle_visitor *v, dr_err *err);

/* libarchive converts paths through the thread's LC_CTYPE: read with this
 * thread (not the process) in C.UTF-8 so UTF-8 pax paths come through. */
int dr_bundle_reader_scan(dr_bundle_reader *r, const dr_bundle_visitor *v, dr_err *err)
{
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
    int rc = scan(r, v, err);
    if (old)
        uselocale(old);
    if (utf8)
        freelocale(utf8);
    return rc;
}

static int scan(dr_bundle_reader *r, const dr_bundle_visitor *v, dr_err *err)
{
    const uint64_t C = DR_BUNDLE_SEGMENT_SIZE;
    (void)C;
    r->dctx = r->dctx ? r->dctx : ZSTD_createDCtx();
    ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
    r->dbuf_cap = ZSTD_DStreamOutSize();
    if (!r->dbuf)
        r->dbuf = dr_xmalloc(r->dbuf_cap);
    memset(&r->zin, 0, sizeof(r->zin));
    r->zret = 0;
    r->zpending = 0;
    r->next_chunk = 0;
    r->cur_entry = NULL;
    r->cb_failed = 0;
    dr_err_clear(&r->cb_err);

    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    if (archive_read_open2(a, r, NULL, scan_read, NULL, NULL) != ARCHIVE_OK) {
        int rc = scan_fail(r, a, "the start of the tar stream", err);
        archive_read_free(a);
        return rc;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = 0;
    size_t total = r->n_ents + 2;
    for (size_t i = 0; rc == 0 && i < total; i++) {
        const char *want_path = i < r->n_ents    ? r->ents[i].path
                                : i == r->n_ents ? DR_MANIFEST_PATH
                                                 : DR_MANIFEST_SIG_PATH;
        uint64_t want_size = i < r->n_ents    ? r->ents[i].size
                             : i == r->n_ents ? r->manifest_len
                                              : r->sig_len;
        struct archive_entry *ae;
        int h = archive_read_next_header(a, &ae);
        if (h == ARCHIVE_EOF) {
            rc = dr_err_set(err, DR_E_VERIFY,
                            "the tar stream ends after %zu entries: entry %zu '%s' and those "
                            "after it are missing",
                            i, i + 1, want_path);
            break;
        }
        if (h != ARCHIVE_OK) {
            char what[300];
            snprintf(what, sizeof(what), "entry %zu '%s': damaged tar header", i + 1, want_path);
            rc = scan_fail(r, a, what, err);
            break;
        }
        if (check_header(r, ae, i, want_path, want_size, err) != 0) {
            rc = -1;
            break;
        }
        r->cur_entry = want_path;
        dr_bundle_entry ve = {.index = i, .path = want_path, .size = want_size};
        if (i < r->n_ents) {
            const rentry *re = &r->ents[i];
            ve.stream = re->stream;
            ve.part = re->part;
            ve.last_part = re->last_part;
            ve.sha256 = re->sha_hex;
            ve.mode = re->mode;
            ve.mtime = re->mtime;
        }
        int deliver = i < r->n_ents && v && (v->data || v->end);
        if (deliver && v->begin) {
            int b = v->begin(v->ud, &ve, err);
            if (b < 0) {
                rc = -1;
                break;
            }
            deliver = b == 0;
        }
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        uint64_t got = 0;
        for (;;) {
            const void *buf;
            size_t n;
            la_int64_t off;
            int d = archive_read_data_block(a, &buf, &n, &off);
            if (d == ARCHIVE_EOF)
                break;
            if (d != ARCHIVE_OK) {
                char what[300];
                snprintf(what, sizeof(what), "entry %zu '%s': reading its data", i + 1, want_path);
                rc = scan_fail(r, a, what, err);
                break;
            }
            if (off < 0 || (uint64_t)off != got) {
                rc = dr_err_set(err, DR_E_VERIFY, "entry %zu '%s' refused: sparse data", i + 1,
                                want_path);
                break;
            }
            EVP_DigestUpdate(md, buf, n);
            got += n;
            if (deliver && v->data && n && v->data(v->ud, &ve, buf, n, err) != 0) {
                rc = -1;
                break;
            }
        }
        if (rc != 0)
            break;
        unsigned char h32[32];
        unsigned int hl = 32;
        EVP_DigestFinal_ex(md, h32, &hl);
        const unsigned char *want = i < r->n_ents    ? r->ents[i].sha
                                    : i == r->n_ents ? r->manifest_sha
                                                     : r->sig_sha;
        if (got != want_size || !dr_bk_equal(h32, want, 32)) {
            rc = dr_err_set(err, DR_E_VERIFY,
                            "entry %zu '%s': %s mismatch: its data was altered or damaged", i + 1,
                            want_path, got != want_size ? "size" : "SHA-256");
            break;
        }
        if (deliver && v->end && v->end(v->ud, &ve, err) != 0)
            rc = -1;
    }
    if (rc == 0) {
        struct archive_entry *ae;
        int h = archive_read_next_header(a, &ae);
        if (h == ARCHIVE_OK)
            rc = dr_err_set(err, DR_E_VERIFY, "an entry '%s' follows MANIFEST.sig",
                            archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "?");
        else if (h != ARCHIVE_EOF)
            rc = scan_fail(r, a, "the end of the tar stream", err);
    }
    if (rc == 0) {
        /* Whatever follows the end-of-archive blocks must be zero padding,
         * and the compressed stream must end with a complete frame. */
        const void *buf;
        la_ssize_t n;
        while ((n = scan_read(a, r, &buf)) > 0) {
            for (la_ssize_t k = 0; k < n && rc == 0; k++)
                if (((const unsigned char *)buf)[k])
                    rc = dr_err_set(err, DR_E_VERIFY, "data after the end of the tar stream");
            if (rc)
                break;
        }
        if (rc == 0 && n < 0)
            rc = (*err = r->cb_err, -1);
    }
    EVP_MD_CTX_free(md);
    archive_read_free(a);
    r->cur_entry = NULL;
    return rc;
}

int dr_bundle_reader_verify(dr_bundle_reader *r, dr_err *err)
{
    return dr_bundle_reader_scan(r, NULL, err);
}

/* ---- secrets ------------------------------------------------------------- */

int dr_bundle_reader_secrets(dr_bundle_reader *r, dr_bundle_secret_fn fn, void *ud, dr_err *err)
{
    if (!r->secrets_blob)
        return 0;
    if (!r->have_key)
        return dr_err_set(err, DR_E_CREDENTIALS,
                          "secrets: the bundle was opened without a key; open it with KMS or "
                          "the recovery key");
    dr_buf pt = DR_BUF_INIT;
    if (dr_unseal_buffer(r->secrets_blob, r->secrets_len, r->key, NULL, "secrets", &pt, err) != 0)
        return -1;
    int rc = dr_bk_secrets_parse(&pt, fn, ud, err);
    dr_buf_free_secret(&pt);
    return rc;
}

int dr_bundle_secrets_open(const void *blob, size_t n, const dr_bundle_keyring *kr,
                           dr_bundle_secret_fn fn, void *ud, dr_err *err)
{
    dr_buf pt = DR_BUF_INIT;
    if (dr_unseal_buffer(blob, n, NULL, kr, "secrets", &pt, err) != 0)
        return -1;
    int rc = dr_bk_secrets_parse(&pt, fn, ud, err);
    dr_buf_free_secret(&pt);
    return rc;
}
