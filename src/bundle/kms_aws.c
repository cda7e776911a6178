/*
 * kms_aws.c - the bundle's KMS operations through the AWS client:
 * Encrypt and Decrypt of the 32-byte bundle key with an EncryptionContext.
 *
 * The key travels base64-encoded in the request (Encrypt) or response
 * (Decrypt) JSON. The client never logs bodies; here the base64 text is
 * zeroed in jansson's memory before the documents are freed.
 */
#include "bundle/bundle_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static json_t *context_json(const dr_kvlist *ctx)
{
    json_t *o = json_object();
    for (size_t i = 0; ctx && i < ctx->n; i++)
        json_object_set_new(o, ctx->items[i].name, json_string(ctx->items[i].value));
    return o;
}

static void zero_member(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v))
        dr_secure_zero((char *)json_string_value(v), json_string_length(v));
}

static int aws_encrypt(void *ud, const char *region, const char *key_id, const dr_kvlist *context,
                       const unsigned char *pt, size_t pt_len, unsigned char **ct, size_t *ct_len,
                       char **key_arn_out, dr_err *err)
{
    dr_aws *aws = ud;
    char *b64 = dr_bk_b64(pt, pt_len);
    json_t *in = json_pack("{s:s, s:s, s:o}", "KeyId", key_id, "Plaintext", b64,
                           "EncryptionContext", context_json(context));
    dr_free_secret(b64);
    json_t *out = NULL;
    int rc = dr_aws_json(aws, "kms", region, "Encrypt", in, &out, err);
    zero_member(in, "Plaintext");
    json_decref(in);
    if (rc != 0)
        return -1;
    const char *blob = json_string_value(json_object_get(out, "CiphertextBlob"));
    if (!blob || dr_bk_unb64(blob, ct, ct_len) != 0) {
        json_decref(out);
        return dr_err_set(err, DR_E_AWS, "kms Encrypt in %s: no CiphertextBlob in the answer",
                          region);
    }
    const char *arn = json_string_value(json_object_get(out, "KeyId"));
    if (key_arn_out)
        *key_arn_out = arn ? dr_xstrdup(arn) : NULL;
    json_decref(out);
    return 0;
}

static int aws_decrypt(void *ud, const char *region, const char *key_id, const dr_kvlist *context,
                       const unsigned char *ct, size_t ct_len, unsigned char **pt, size_t *pt_len,
                       dr_err *err)
{
    dr_aws *aws = ud;
    char *b64 = dr_bk_b64(ct, ct_len);
    json_t *in = json_pack("{s:s, s:s, s:o}", "CiphertextBlob", b64, "KeyId", key_id,
                           "EncryptionContext", context_json(context));
    free(b64);
    json_t *out = NULL;
    int rc = dr_aws_json(aws, "kms", region, "Decrypt", in, &out, err);
    json_decref(in);
    if (rc != 0)
        return -1;
    const char *p = json_string_value(json_object_get(out, "Plaintext"));
    rc = p && dr_bk_unb64(p, pt, pt_len) == 0
             ? 0
             : dr_err_set(err, DR_E_AWS, "kms Decrypt in %s: no Plaintext in the answer", region);
    zero_member(out, "Plaintext");
    json_decref(out);
    return rc;
}

void dr_bundle_kms_aws(dr_aws *aws, dr_bundle_kms *out)
{
    out->encrypt = aws_encrypt;
    out->decrypt = aws_decrypt;
    out->ud = aws;
}
