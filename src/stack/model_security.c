/*
 * model_security.c - the security family: the stack's KMS key, security
 * groups, Secrets Manager secrets, IAM roles and the load balancer's
 * certificate.
 *
 * Why it looks like this:
 * - One KMS key per region (with rotation) encrypts everything of the stack
 *   there: bucket, database, cache, secrets, bundles. Its policy gives the
 *   account's IAM the say, so that the roles below are the single place
 *   where access is granted (and no key policy refers to a role, which would
 *   make key and roles depend on each other).
 * - Security groups chain ALB -> tasks -> database/cache/endpoints and
 *   nothing else: every group but the tasks' replaces the default
 *   allow-all egress by a rule that matches nothing (the CDK's
 *   255.255.255.255/32 ICMP 252/86 idiom), and the ALB's one real egress
 *   rule (to the tasks' port) is a resource of its own, because an inline
 *   rule would make the two groups refer to each other.
 * - Secrets are data, not infrastructure: the model holds them (name, key)
 *   with no SecretString and no GenerateSecretString; drctl writes their
 *   values (identical master password and LITELLM_SALT_KEY in both regions)
 *   and nothing here ever sees them.
 * - Least privilege: the execution role reads this stack's injected secrets
 *   and decrypts with this stack's key only; the task role reaches this
 *   stack's bucket only (and the key only through S3).
 */
#include <string.h>

#include "stack/model_int.h"
#include "util/mem.h"

void dr_build_security_key(dr_mb *b)
{
    json_t *policy =
        json_pack("{s:s, s:[{s:s, s:s, s:{s:o}, s:s, s:s}]}", "Version", "2012-10-17", "Statement",
                  "Sid", "AccountAdministersThroughIam", "Effect", "Allow", "Principal", "AWS",
                  dr_sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"), "Action", "kms:*",
                  "Resource", "*");
    char *desc = dr_xasprintf("drctl %s: encrypts the stack's data in %s", b->stack, b->region);
    dr_resource *r =
        dr_mb_add(b, "Key", "AWS::KMS::Key",
                  json_pack("{s:o, s:b, s:s, s:s, s:i, s:o}", "Description", dr_str_take(desc),
                            "EnableKeyRotation", 1, "KeySpec", "SYMMETRIC_DEFAULT", "KeyUsage",
                            "ENCRYPT_DECRYPT", "PendingWindowInDays", 30, "KeyPolicy", policy));
    /* Deleting the key makes every bundle wrapped with it unreadable. */
    r->deletion_policy = "Retain";
    char *alias = dr_xasprintf("alias/%s", b->stack);
    dr_mb_add(
        b, "KeyAlias", "AWS::KMS::Alias",
        json_pack("{s:o, s:o}", "AliasName", dr_str_take(alias), "TargetKeyId", dr_ref("Key")));
    dr_mb_output(b, "KmsKeyArn", dr_getatt("Key", "Arn"), "The stack's KMS key in this region");
}

/* A rule that matches no traffic: declaring it removes the default
 * allow-all egress of a security group. */
static json_t *no_egress(void)
{
    return json_pack("[{s:s, s:s, s:i, s:i, s:s}]", "CidrIp", "255.255.255.255/32", "IpProtocol",
                     "icmp", "FromPort", 252, "ToPort", 86, "Description",
                     "No egress: replaces the default allow-all rule");
}

static json_t *from_group(int port, const char *group, const char *desc)
{
    return json_pack("{s:s, s:i, s:i, s:o, s:s}", "IpProtocol", "tcp", "FromPort", port, "ToPort",
                     port, "SourceSecurityGroupId", dr_getatt(group, "GroupId"), "Description",
                     desc);
}

static void security_group(dr_mb *b, const char *id, const char *purpose, const char *desc,
                           json_t *ingress, json_t *egress)
{
    char *name = dr_model_name(b->stack, purpose, 255);
    dr_mb_add(b, id, "AWS::EC2::SecurityGroup",
              json_pack("{s:o, s:s, s:o, s:o, s:o}", "GroupName", dr_str_take(name),
                        "GroupDescription", desc, "VpcId", dr_ref("Vpc"), "SecurityGroupIngress",
                        ingress, "SecurityGroupEgress", egress));
}

static void security_groups(dr_mb *b)
{
    const dr_region_profile *p = b->p;
    int port = p->service.port;
    security_group(b, "AlbSecurityGroup", "alb", "Load balancer: HTTPS and HTTP from anywhere",
                   json_pack("[{s:s, s:i, s:i, s:s, s:s}, {s:s, s:i, s:i, s:s, s:s}]", "IpProtocol",
                             "tcp", "FromPort", 443, "ToPort", 443, "CidrIp", "0.0.0.0/0",
                             "Description", "HTTPS from clients and health checks", "IpProtocol",
                             "tcp", "FromPort", 80, "ToPort", 80, "CidrIp", "0.0.0.0/0",
                             "Description",
                             "HTTP: CloudFront origin requests, or redirected to HTTPS"),
                   no_egress());
    /* Tasks need the internet (model providers, the image registry) through
     * the NAT gateways: their egress stays open. */
    security_group(b, "TaskSecurityGroup", "tasks", "LiteLLM tasks: only from the load balancer",
                   json_pack("[o]", from_group(port, "AlbSecurityGroup",
                                               "LiteLLM port from the load balancer")),
                   json_pack("[{s:s, s:s, s:s}]", "IpProtocol", "-1", "CidrIp", "0.0.0.0/0",
                             "Description", "Model providers, image registry, AWS APIs"));
    dr_mb_add(b, "AlbToTasksEgress", "AWS::EC2::SecurityGroupEgress",
              json_pack("{s:o, s:s, s:i, s:i, s:o, s:s}", "GroupId",
                        dr_getatt("AlbSecurityGroup", "GroupId"), "IpProtocol", "tcp", "FromPort",
                        port, "ToPort", port, "DestinationSecurityGroupId",
                        dr_getatt("TaskSecurityGroup", "GroupId"), "Description",
                        "Load balancer to the LiteLLM tasks only"));
    security_group(b, "DbSecurityGroup", "db", "PostgreSQL: only from the LiteLLM tasks",
                   json_pack("[o]", from_group(5432, "TaskSecurityGroup",
                                               "PostgreSQL from the LiteLLM tasks")),
                   no_egress());
    if (p->cache.enabled)
        security_group(
            b, "CacheSecurityGroup", "cache", "Redis: only from the LiteLLM tasks",
            json_pack("[o]", from_group(6379, "TaskSecurityGroup", "Redis from the LiteLLM tasks")),
            no_egress());
    security_group(
        b, "EndpointSecurityGroup", "endpoints",
        "VPC interface endpoints: HTTPS from the LiteLLM tasks",
        json_pack("[o]", from_group(443, "TaskSecurityGroup", "AWS APIs from the LiteLLM tasks")),
        no_egress());
}

static void secret(dr_mb *b, const char *id, const char *name, const char *desc, const char *output)
{
    char *full = dr_xasprintf("%s/%s", b->stack, name);
    dr_resource *r = dr_mb_add(b, id, "AWS::SecretsManager::Secret",
                               json_pack("{s:o, s:s, s:o}", "Name", dr_str_take(full),
                                         "Description", desc, "KmsKeyId", dr_getatt("Key", "Arn")));
    /* A lost salt key makes the credentials stored in LiteLLM's database
     * unreadable: secrets outlive the stack. */
    r->deletion_policy = "Retain";
    char *odesc = dr_xasprintf("ARN of the secret %s/%s", b->stack, name);
    dr_mb_output(b, output, dr_ref(id), odesc);
    free(odesc);
}

static void secrets(dr_mb *b)
{
    secret(b, "DbSecret", "database",
           "PostgreSQL master credentials and the LiteLLM DATABASE_URL (JSON: username, "
           "password, url); identical password in every region",
           "DbSecretArn");
    secret(b, "MasterKeySecret", "litellm-master-key", "LITELLM_MASTER_KEY (sk-...)",
           "MasterKeySecretArn");
    secret(b, "SaltKeySecret", "litellm-salt-key",
           "LITELLM_SALT_KEY: encrypts model credentials in the database; identical in every "
           "region",
           "SaltKeySecretArn");
    secret(b, "ProviderKeysSecret", "provider-keys",
           "Model provider API keys (JSON: OPENAI_API_KEY, ...)", "ProviderKeysSecretArn");
    if (b->p->cache.enabled)
        secret(b, "CacheAuthSecret", "cache-auth-token",
               "Redis AUTH token (ElastiCache in-transit encryption)", "CacheAuthSecretArn");
}

/* Trust for ECS tasks of this account and region only (the confused-deputy
 * conditions AWS recommends). */
static json_t *ecs_trust(const char *region)
{
    return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:{s:{s:o}, s:{s:o}}}]}", "Version",
                     "2012-10-17", "Statement", "Effect", "Allow", "Principal", "Service",
                     "ecs-tasks.amazonaws.com", "Action", "sts:AssumeRole", "Condition",
                     "StringEquals", "aws:SourceAccount", dr_ref("AWS::AccountId"), "ArnLike",
                     "aws:SourceArn",
                     dr_sub("arn:${AWS::Partition}:ecs:%s:${AWS::AccountId}:*", region));
}

static json_t *role_props(dr_mb *b, const char *purpose, const char *desc, json_t *trust,
                          const char *policy_name, json_t *statements)
{
    char *tail = dr_xasprintf("%s-%s", b->region, purpose);
    char *name = dr_model_name(b->stack, tail, 64);
    free(tail);
    return json_pack("{s:o, s:s, s:o, s:[{s:s, s:{s:s, s:o}}]}", "RoleName", dr_str_take(name),
                     "Description", desc, "AssumeRolePolicyDocument", trust, "Policies",
                     "PolicyName", policy_name, "PolicyDocument", "Version", "2012-10-17",
                     "Statement", statements);
}

static void roles(dr_mb *b)
{
    const char *region = b->region;
    /* Only the secrets the container gets injected. */
    json_t *injected = json_pack("[o, o, o]", dr_ref("DbSecret"), dr_ref("MasterKeySecret"),
                                 dr_ref("SaltKeySecret"));
    if (b->p->cache.enabled)
        json_array_append_new(injected, dr_ref("CacheAuthSecret"));
    json_t *exec = json_pack(
        "[{s:s, s:s, s:[s], s:o}, {s:s, s:s, s:[s], s:o}, {s:s, s:s, s:[s, s], s:o},"
        " {s:s, s:s, s:[s, s, s], s:o}, {s:s, s:s, s:[s], s:s}]",
        "Sid", "ReadThisStacksSecrets", "Effect", "Allow", "Action",
        "secretsmanager:GetSecretValue", "Resource", injected, "Sid", "DecryptWithThisStacksKey",
        "Effect", "Allow", "Action", "kms:Decrypt", "Resource", dr_getatt("Key", "Arn"), "Sid",
        "WriteServiceLogs", "Effect", "Allow", "Action", "logs:CreateLogStream",
        "logs:PutLogEvents", "Resource", dr_getatt("ServiceLogGroup", "Arn"), "Sid",
        "PullImagesFromThisAccountsEcr", "Effect", "Allow", "Action",
        "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
        "Resource", dr_sub("arn:${AWS::Partition}:ecr:%s:${AWS::AccountId}:repository/*", region),
        "Sid", "EcrLogin", "Effect", "Allow", "Action", "ecr:GetAuthorizationToken", "Resource",
        "*");
    dr_mb_add(b, "ExecutionRole", "AWS::IAM::Role",
              role_props(b, "task-exec",
                         "ECS task execution: this stack's secrets, key, log group, ECR pulls",
                         ecs_trust(region), "secrets-key-logs", exec));

    json_t *task = json_pack(
        "[{s:s, s:s, s:[s, s], s:o}, {s:s, s:s, s:[s, s, s, s], s:o},"
        " {s:s, s:s, s:[s, s], s:o, s:{s:{s:o}}}]",
        "Sid", "ListThisStacksBucket", "Effect", "Allow", "Action", "s3:ListBucket",
        "s3:GetBucketLocation", "Resource", dr_getatt("Bucket", "Arn"), "Sid",
        "ObjectsInThisStacksBucket", "Effect", "Allow", "Action", "s3:GetObject", "s3:PutObject",
        "s3:DeleteObject", "s3:AbortMultipartUpload", "Resource", dr_sub("${Bucket.Arn}/*"), "Sid",
        "KeyThroughS3Only", "Effect", "Allow", "Action", "kms:Decrypt", "kms:GenerateDataKey",
        "Resource", dr_getatt("Key", "Arn"), "Condition", "StringEquals", "kms:ViaService",
        dr_str_take(dr_xasprintf("s3.%s.amazonaws.com", region)));
    dr_mb_add(b, "TaskRole", "AWS::IAM::Role",
              role_props(b, "task", "LiteLLM tasks: this stack's bucket only", ecs_trust(region),
                         "stack-bucket", task));
    dr_mb_output(b, "ExecutionRoleArn", dr_getatt("ExecutionRole", "Arn"),
                 "ECS task execution role");
    dr_mb_output(b, "TaskRoleArn", dr_getatt("TaskRole", "Arn"), "LiteLLM task role");
}

/* The flow log role (network family) and the replication role (data family)
 * use this too. */
json_t *dr_service_role(dr_mb *b, const char *purpose, const char *desc, const char *service,
                        const char *policy_name, json_t *statements)
{
    json_t *trust = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:{s:{s:o}}}]}", "Version",
                              "2012-10-17", "Statement", "Effect", "Allow", "Principal", "Service",
                              service, "Action", "sts:AssumeRole", "Condition", "StringEquals",
                              "aws:SourceAccount", dr_ref("AWS::AccountId"));
    return role_props(b, purpose, desc, trust, policy_name, statements);
}

void dr_build_security(dr_mb *b)
{
    security_groups(b);
    secrets(b);
    roles(b);
    const char *domain = b->p->dns.domain;
    if (domain && *domain) {
        /* DNS validation: the engine writes the validation record into the
         * hosted zone (dns.hosted_zone); CloudFormation users approve it. */
        dr_mb_add(b, "Certificate", "AWS::CertificateManager::Certificate",
                  json_pack("{s:s, s:s}", "DomainName", domain, "ValidationMethod", "DNS"));
    }
}
