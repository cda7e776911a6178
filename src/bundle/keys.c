/*
 * keys.c - the bundle key's wraps (KMS per region, RSA-OAEP recovery key),
 * unwrapping with a keyring, and the secrets plaintext.
 *
 * A bundle has one random 32-byte key. Every wrap holds that same key, so
 * any one of them opens the bundle: KMS in the source region, KMS in the DR
 * region (moto's multi-region replicas cannot decrypt each other's
 * ciphertexts, and a regional outage may take one KMS away, so each region
 * gets its own wrap), or the recovery private key with no AWS at all.
 */
#include "bundle/bundle_int.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static void kms_context(dr_kvlist *ctx, const char *stack, uint64_t version)
{
    dr_kv_init(ctx);
    dr_kv_add(ctx, "drctl:stack", stack);
    dr_kv_addf(ctx, "drctl:bundle", "%llu", (unsigned long long)version);
}

/* PEM without a passphrase: never let OpenSSL prompt on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

static EVP_PKEY *load_pem(const char *pem, int private_key, dr_err *err)
{
    char ebuf[256];
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (!bio)
        return dr_err_set(err, DR_E_INTERNAL, "BIO_new_mem_buf failed"), NULL;
    EVP_PKEY *pk = private_key ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                               : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (!pk) {
        dr_err_set(err, DR_E_CONFIG, "recovery %s key: not a PEM %s key without passphrase: %s",
                   private_key ? "private" : "public", private_key ? "private" : "public",
                   dr_bk_ossl_err(ebuf, sizeof(ebuf)));
        return NULL;
    }
    if (!EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_bits(pk) < 2048) {
        EVP_PKEY_free(pk);
        dr_err_set(err, DR_E_CONFIG, "recovery key: must be RSA of at least 2048 bits");
        return NULL;
    }
    return pk;
}

/* "sha256:<hex of SHA-256 over the DER SubjectPublicKeyInfo>": what names a
 * recovery key in wraps and messages (`openssl pkey -pubin -outform DER |
 * sha256sum` gives the same). */
static int key_fingerprint(EVP_PKEY *pk, char out[72], dr_err *err)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pk, &der);
    if (n <= 0)
        return dr_err_set(err, DR_E_INTERNAL, "recovery key: cannot encode the public key");
    unsigned char h[32];
    dr_bk_sha256(der, (size_t)n, h);
    OPENSSL_free(der);
    memcpy(out, "sha256:", 7);
    dr_bk_hex(h, 32, out + 7);
    return 0;
}

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *pk, int decrypt)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (!c)
        return NULL;
    int ok = (decrypt ? EVP_PKEY_decrypt_init(c) : EVP_PKEY_encrypt_init(c)) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1;
    if (!ok) {
        EVP_PKEY_CTX_free(c);
        return NULL;
    }
    return c;
}

static int wrap_rsa(const unsigned char key[32], const char *pem, json_t *wraps, dr_err *err)
{
    char ebuf[256], fp[72];
    EVP_PKEY *pk = load_pem(pem, 0, err);
    if (!pk)
        return -1;
    if (key_fingerprint(pk, fp, err) != 0) {
        EVP_PKEY_free(pk);
        return -1;
    }
    EVP_PKEY_CTX *c = oaep_ctx(pk, 0);
    size_t n = 0;
    unsigned char *ct = NULL;
    int ok = c && EVP_PKEY_encrypt(c, NULL, &n, key, 32) == 1;
    if (ok) {
        ct = dr_xmalloc(n);
        ok = EVP_PKEY_encrypt(c, ct, &n, key, 32) == 1;
    }
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(pk);
    if (!ok) {
        free(ct);
        return dr_err_set(err, DR_E_INTERNAL, "recovery key: RSA-OAEP encryption failed: %s",
                          dr_bk_ossl_err(ebuf, sizeof(ebuf)));
    }
    char *b64 = dr_bk_b64(ct, n);
    free(ct);
    json_array_append_new(wraps, json_pack("{s:s, s:s, s:s}", "type", "rsa-oaep-sha256",
                                           "key_sha256", fp + 7, "ciphertext", b64));
    free(b64);
    return 0;
}

int dr_bk_wrap(const unsigned char key[32], const dr_bundle_wopts *o, json_t **out, dr_err *err)
{
    if (o->n_kms_keys == 0 && !o->recovery_pubkey_pem)
        return dr_err_set(err, DR_E_CONFIG,
                          "bundle: no key to wrap the bundle key with (no KMS key and no "
                          "recovery key); secrets are always sealed and the manifest signed, "
                          "so at least one is needed");
    if (o->n_kms_keys && (!o->kms || !o->kms->encrypt))
        return dr_err_set(err, DR_E_INTERNAL, "bundle: KMS keys given without a KMS client");
    json_t *wraps = json_array();
    dr_kvlist ctx;
    kms_context(&ctx, o->stack, o->version);
    for (size_t i = 0; i < o->n_kms_keys; i++) {
        const dr_bundle_kms_key *k = &o->kms_keys[i];
        if (!k->region || !*k->region || !k->key_id || !*k->key_id) {
            dr_kv_free(&ctx);
            json_decref(wraps);
            return dr_err_set(err, DR_E_CONFIG, "bundle: KMS key %zu has no region or key id",
                              i + 1);
        }
        unsigned char *ct = NULL;
        size_t ct_len = 0;
        char *arn = NULL;
        if (o->kms->encrypt(o->kms->ud, k->region, k->key_id, &ctx, key, 32, &ct, &ct_len, &arn,
                            err) != 0) {
            dr_kv_free(&ctx);
            json_decref(wraps);
            return dr_err_wrap(err, "wrapping the bundle key with KMS key %s in %s", k->key_id,
                               k->region);
        }
        char *b64 = dr_bk_b64(ct, ct_len);
        json_t *jctx = json_object();
        for (size_t j = 0; j < ctx.n; j++)
            json_object_set_new(jctx, ctx.items[j].name, json_string(ctx.items[j].value));
        json_array_append_new(wraps,
                              json_pack("{s:s, s:s, s:s, s:o, s:s}", "type", "aws-kms", "region",
                                        k->region, "key_id", arn && *arn ? arn : k->key_id,
                                        "context", jctx, "ciphertext", b64));
        free(b64);
        free(ct);
        free(arn);
    }
    dr_kv_free(&ctx);
    if (o->recovery_pubkey_pem && wrap_rsa(key, o->recovery_pubkey_pem, wraps, err) != 0) {
        json_decref(wraps);
        return -1;
    }
    *out = wraps;
    return 0;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int dr_bk_wraps_check(const json_t *wraps, dr_err *err)
{
    if (!json_is_array(wraps) || json_array_size(wraps) == 0)
        return dr_err_set(err, DR_E_VERIFY, "key wraps: missing or empty");
    size_t i;
    const json_t *w;
    json_array_foreach(wraps, i, w)
    {
        const char *type = jstr(w, "type");
        unsigned char *ct = NULL;
        size_t n = 0;
        if (!type || !jstr(w, "ciphertext") || dr_bk_unb64(jstr(w, "ciphertext"), &ct, &n) != 0)
            return dr_err_set(err, DR_E_VERIFY, "key wrap %zu: no type or bad ciphertext", i + 1);
        free(ct);
        if (strcmp(type, "aws-kms") == 0) {
            if (!jstr(w, "region") || !jstr(w, "key_id"))
                return dr_err_set(err, DR_E_VERIFY,
                                  "key wrap %zu: aws-kms without region or "
                                  "key_id",
                                  i + 1);
        } else if (strcmp(type, "rsa-oaep-sha256") == 0) {
            unsigned char h[32];
            if (dr_bk_unhex(jstr(w, "key_sha256"), h, 32) != 0)
                return dr_err_set(err, DR_E_VERIFY,
                                  "key wrap %zu: rsa-oaep-sha256 without "
                                  "key_sha256",
                                  i + 1);
        }
        /* Unknown types are allowed: a later version may add some, and a
         * reader that has another usable wrap still opens the bundle. */
    }
    return 0;
}

char *dr_bk_describe_wraps(const json_t *wraps)
{
    dr_buf b = DR_BUF_INIT;
    size_t i;
    const json_t *w;
    json_array_foreach(wraps, i, w)
    {
        const char *type = jstr(w, "type");
        if (i)
            dr_buf_puts(&b, ", ");
        if (type && strcmp(type, "aws-kms") == 0)
            dr_buf_printf(&b, "aws-kms %s (%s)", jstr(w, "region"), jstr(w, "key_id"));
        else if (type && strcmp(type, "rsa-oaep-sha256") == 0)
            dr_buf_printf(&b, "rsa-oaep-sha256 recovery key sha256:%.16s...",
                          jstr(w, "key_sha256"));
        else
            dr_buf_printf(&b, "%s (unknown type)", type ? type : "?");
    }
    if (b.len == 0)
        dr_buf_puts(&b, "none");
    return dr_buf_detach(&b);
}

static int unwrap_kms(const json_t *w, const dr_bundle_kms *kms, const char *stack,
                      uint64_t version, unsigned char key[32], dr_err *err)
{
    unsigned char *ct = NULL, *pt = NULL;
    size_t ct_len = 0, pt_len = 0;
    if (dr_bk_unb64(jstr(w, "ciphertext"), &ct, &ct_len) != 0)
        return dr_err_set(err, DR_E_VERIFY, "bad ciphertext");
    /* The context is rebuilt from the bundle's own identity, not taken from
     * the wrap: a wrap copied from another bundle does not decrypt. */
    dr_kvlist ctx;
    kms_context(&ctx, stack, version);
    int rc = kms->decrypt(kms->ud, jstr(w, "region"), jstr(w, "key_id"), &ctx, ct, ct_len, &pt,
                          &pt_len, err);
    dr_kv_free(&ctx);
    free(ct);
    if (rc != 0)
        return -1;
    if (pt_len != 32) {
        dr_secure_zero(pt, pt_len);
        free(pt);
        return dr_err_set(err, DR_E_VERIFY, "KMS returned %zu bytes, not a 32-byte key", pt_len);
    }
    memcpy(key, pt, 32);
    dr_secure_zero(pt, pt_len);
    free(pt);
    return 0;
}

static int unwrap_rsa(const json_t *w, EVP_PKEY *pk, const char *fp, unsigned char key[32],
                      dr_err *err)
{
    char ebuf[256];
    if (strcmp(jstr(w, "key_sha256"), fp + 7) != 0)
        return dr_err_set(err, DR_E_CREDENTIALS,
                          "the recovery key given is %.23s..., the bundle's is sha256:%.16s...", fp,
                          jstr(w, "key_sha256"));
    unsigned char *ct = NULL;
    size_t ct_len = 0;
    if (dr_bk_unb64(jstr(w, "ciphertext"), &ct, &ct_len) != 0)
        return dr_err_set(err, DR_E_VERIFY, "bad ciphertext");
    EVP_PKEY_CTX *c = oaep_ctx(pk, 1);
    size_t n = 0;
    unsigned char *pt = NULL;
    int ok = c && EVP_PKEY_decrypt(c, NULL, &n, ct, ct_len) == 1;
    if (ok) {
        pt = dr_xmalloc(n);
        ok = EVP_PKEY_decrypt(c, pt, &n, ct, ct_len) == 1 && n == 32;
    }
    EVP_PKEY_CTX_free(c);
    free(ct);
    if (ok)
        memcpy(key, pt, 32);
    if (pt) {
        dr_secure_zero(pt, n);
        free(pt);
    }
    if (!ok)
        return dr_err_set(err, DR_E_VERIFY, "RSA-OAEP decryption failed: %s",
                          dr_bk_ossl_err(ebuf, sizeof(ebuf)));
    return 0;
}

int dr_bk_unwrap(const json_t *wraps, const dr_bundle_keyring *kr, const char *stack,
                 uint64_t version, unsigned char key[32], char **opened_with, dr_err *err)
{
    dr_buf tried = DR_BUF_INIT;
    dr_err e;
    size_t i;
    const json_t *w;
    if (kr && kr->kms && kr->kms->decrypt) {
        size_t nr = kr->n_kms_regions ? kr->n_kms_regions : 1;
        for (size_t r = 0; r < nr; r++) {
            const char *region = kr->n_kms_regions ? kr->kms_regions[r] : NULL;
            json_array_foreach(wraps, i, w)
            {
                const char *type = jstr(w, "type");
                if (!type || strcmp(type, "aws-kms") != 0)
                    continue;
                if (region && strcmp(region, jstr(w, "region")) != 0)
                    continue;
                dr_err_clear(&e);
                if (unwrap_kms(w, kr->kms, stack, version, key, &e) == 0) {
                    *opened_with = dr_xasprintf("aws-kms %s", jstr(w, "region"));
                    dr_buf_free(&tried);
                    return 0;
                }
                dr_buf_printf(&tried, "%saws-kms %s: %.300s", tried.len ? "; " : "",
                              jstr(w, "region"), e.msg);
            }
        }
    }
    if (kr && kr->recovery_privkey_pem) {
        EVP_PKEY *pk = load_pem(kr->recovery_privkey_pem, 1, &e);
        char fp[72];
        if (pk && key_fingerprint(pk, fp, &e) != 0) {
            EVP_PKEY_free(pk);
            pk = NULL;
        }
        if (!pk) {
            dr_buf_printf(&tried, "%srecovery key: %.300s", tried.len ? "; " : "", e.msg);
        } else {
            int any = 0;
            json_array_foreach(wraps, i, w)
            {
                const char *type = jstr(w, "type");
                if (!type || strcmp(type, "rsa-oaep-sha256") != 0)
                    continue;
                any = 1;
                dr_err_clear(&e);
                if (unwrap_rsa(w, pk, fp, key, &e) == 0) {
                    EVP_PKEY_free(pk);
                    *opened_with = dr_xstrdup("rsa-oaep-sha256 recovery key");
                    dr_buf_free(&tried);
                    return 0;
                }
                dr_buf_printf(&tried, "%srecovery key: %.300s", tried.len ? "; " : "", e.msg);
            }
            if (!any)
                dr_buf_printf(&tried, "%srecovery key %.23s...: the bundle has no recovery wrap",
                              tried.len ? "; " : "", fp);
            EVP_PKEY_free(pk);
        }
    }
    char *have = dr_bk_describe_wraps(wraps);
    dr_err_set(err, DR_E_CREDENTIALS,
               "no usable key for bundle %s version %llu: %s%s; the bundle's key wraps: %s", stack,
               (unsigned long long)version, tried.len ? "tried " : "",
               tried.len ? tried.data
                         : "nothing to try (no KMS region with a wrap and no recovery key given)",
               have);
    dr_err_hint(err, "open it with KMS in a region listed above, or with the recovery private "
                     "key");
    free(have);
    dr_buf_free(&tried);
    return -1;
}

/* ---- secrets plaintext --------------------------------------------------- */

/* Growth that never leaves a copy of a secret behind in freed memory
 * (dr_buf's realloc would). */
void dr_bk_sec_append(dr_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = dr_xmalloc(cap);
        if (b->len)
            memcpy(d, b->data, b->len);
        if (b->data) {
            dr_secure_zero(b->data, b->cap);
            free(b->data);
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sec_puts(dr_buf *b, const char *s)
{
    dr_bk_sec_append(b, s, strlen(s));
}

static int is_text(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (p[i] == 0)
            return 0;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        /* Reuse the path rules' UTF-8 validation through a small copy. */
        size_t len = (p[i] & 0xe0) == 0xc0 ? 2 : (p[i] & 0xf0) == 0xe0 ? 3 : 4;
        if (i + len > n)
            return 0;
        unsigned cp = p[i] & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
        if ((p[i] & 0xc0) == 0x80 || (p[i] & 0xf8) == 0xf8)
            return 0;
        for (size_t j = 1; j < len; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        unsigned min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static void sec_json_string(dr_buf *b, const unsigned char *p, size_t n)
{
    dr_bk_sec_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            dr_bk_sec_append(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            dr_bk_sec_append(b, esc, 6);
            dr_secure_zero(esc, sizeof(esc));
        } else {
            dr_bk_sec_append(b, &p[i], 1);
        }
    }
    dr_bk_sec_append(b, "\"", 1);
}

void dr_bk_secret_append(dr_buf *b, const char *name, const void *value, size_t n)
{
    /* {"name":..,"encoding":"utf-8"|"base64","value":..} objects, comma
     * separated; close() wraps them in {"format":1,"secrets":[ ... ]}. */
    if (b->len)
        sec_puts(b, ",\n");
    sec_puts(b, "{\"name\":");
    sec_json_string(b, (const unsigned char *)name, strlen(name));
    if (is_text(value, n)) {
        sec_puts(b, ",\"encoding\":\"utf-8\",\"value\":");
        sec_json_string(b, value, n);
    } else {
        sec_puts(b, ",\"encoding\":\"base64\",\"value\":\"");
        char *b64 = dr_bk_b64(value, n);
        sec_puts(b, b64);
        dr_free_secret(b64);
        sec_puts(b, "\"");
    }
    sec_puts(b, "}");
}

int dr_bk_secrets_parse(const dr_buf *pt, dr_bundle_secret_fn fn, void *ud, dr_err *err)
{
    json_error_t je;
    json_t *doc = json_loadb(pt->data ? pt->data : "", pt->len, 0, &je);
    json_t *list = json_object_get(doc, "secrets");
    if (!doc || json_integer_value(json_object_get(doc, "format")) != 1 || !json_is_array(list)) {
        json_decref(doc);
        /* Not je.text: it may quote the plaintext. */
        return dr_err_set(err, DR_E_VERIFY,
                          "secrets: the decrypted plaintext is not the "
                          "expected JSON document");
    }
    int rc = 0;
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        const char *name = jstr(s, "name"), *enc = jstr(s, "encoding");
        json_t *jv = json_object_get(s, "value");
        if (!name || !enc || !json_is_string(jv)) {
            rc = dr_err_set(err, DR_E_VERIFY, "secrets: entry %zu is malformed", i + 1);
            break;
        }
        unsigned char *val = NULL;
        size_t n = json_string_length(jv);
        if (strcmp(enc, "utf-8") == 0) {
            val = dr_xmalloc(n + 1);
            memcpy(val, json_string_value(jv), n);
            val[n] = 0;
        } else if (strcmp(enc, "base64") != 0 ||
                   (n && dr_bk_unb64(json_string_value(jv), &val, &n) != 0)) {
            rc = dr_err_set(err, DR_E_VERIFY, "secrets: '%s' has a bad encoding", name);
            break;
        }
        if (!val)
            val = dr_xcalloc(1, 1);
        if (fn)
            rc = fn(ud, name, val, n, err);
        dr_secure_zero(val, n);
        free(val);
        if (rc != 0)
            break;
    }
    /* jansson's copies of the values: zero them in place before freeing. */
    json_array_foreach(list, i, s)
    {
        json_t *jv = json_object_get(s, "value");
        if (json_is_string(jv))
            dr_secure_zero((char *)json_string_value(jv), json_string_length(jv));
    }
    json_decref(doc);
    return rc;
}
