/*
 * errparse.h - AWS error responses of every shape into one dr_aws_error.
 *
 * Shapes seen from AWS and from moto: query <ErrorResponse><Error><Code>,
 * EC2 <Response><Errors><Error><Code>, S3 <Error><Code>, rest-xml Route 53 /
 * CloudFront <ErrorResponse><Error>, JSON {"__type": "ns#Code", "message"|
 * "Message"}, x-amzn-ErrorType header, JSON inside an XML protocol and XML
 * inside a JSON one (moto's auth errors), an HTML 500 page, and an empty
 * body (HEAD). The request id comes from x-amzn-RequestId, x-amz-request-id,
 * <RequestId> or <RequestID>. When no code can be found the code is derived
 * from the status ("InternalError" for 5xx, "HttpError<status>" otherwise)
 * and the message is the first line of visible text, trimmed to fit.
 *
 * Never fails: the worst case is a generic code with the status.
 */
#ifndef DRCTL_AWS_ERRPARSE_H
#define DRCTL_AWS_ERRPARSE_H

#include <stddef.h>

#include "util/err.h"
#include "util/kv.h"

/* Fills code, message, request_id and http_status of out; leaves service
 * and operation as they were. headers may be NULL. */
void dr_aws_parse_error(long http_status, const dr_kvlist *headers, const char *body, size_t len,
                        dr_aws_error *out);

#endif
