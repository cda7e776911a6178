/*
 * model_compute.c - the compute family: the ECS cluster, the LiteLLM task
 * definition and service, the Application Load Balancer (target group,
 * listeners) and Application Auto Scaling.
 *
 * Why it looks like this:
 * - Fargate only; Container Insights on; Fargate Spot as the service's
 *   capacity when service.fargate_spot (dev), plain FARGATE otherwise.
 * - The container gets no secret in its definition: LITELLM_MASTER_KEY,
 *   LITELLM_SALT_KEY, DATABASE_URL (the "url" key of the database secret,
 *   which drctl writes once the endpoint is known) and REDIS_PASSWORD come
 *   from Secrets Manager by ARN at task start. REDIS_HOST/REDIS_PORT are
 *   the replication group's endpoint (TLS, hence REDIS_SSL).
 * - A warm standby's tasks run against a read replica: they must not try to
 *   migrate the schema (DISABLE_SCHEMA_UPDATE) until failover promotes it.
 * - The target group checks /health/liveliness (process up); readiness
 *   (database reachable) is for Route 53, which must not fail a region over
 *   because a target is replaced.
 * - Listeners: HTTPS with the region's certificate for dns.domain, and
 *   HTTP, which forwards when the edge is on (CloudFront reaches the ALB
 *   over HTTP: its certificate cannot match the ALB's own DNS name) and
 *   redirects to HTTPS when it is off. LLM responses stream for minutes:
 *   idle timeout 600 s.
 * - Scaling: target tracking on CPU and memory between service.scaling.min
 *   and .max. A resting pilot light has no scalable target: it would raise
 *   the service from 0 to the minimum.
 */
#include <stdio.h>

#include "stack/model_int.h"
#include "util/mem.h"

static void cluster(dr_mb *b)
{
    const char *provider = b->p->service.fargate_spot ? "FARGATE_SPOT" : "FARGATE";
    dr_mb_add(b, "Cluster", "AWS::ECS::Cluster",
              json_pack("{s:s, s:[{s:s, s:s}], s:[s, s], s:[{s:s, s:i}]}", "ClusterName", b->stack,
                        "ClusterSettings", "Name", "containerInsights", "Value", "enabled",
                        "CapacityProviders", "FARGATE", "FARGATE_SPOT",
                        "DefaultCapacityProviderStrategy", "CapacityProvider", provider, "Weight",
                        1));
    dr_mb_output(b, "ClusterName", dr_ref("Cluster"), "ECS cluster");
}

static json_t *env(const char *name, json_t *value)
{
    return json_pack("{s:s, s:o}", "Name", name, "Value", value);
}

static void task_definition(dr_mb *b)
{
    const dr_region_profile *p = b->p;
    json_t *environment = json_pack("[o, o]", env("LITELLM_MODE", json_string("PRODUCTION")),
                                    env("STORE_MODEL_IN_DB", json_string("True")));
    if (b->parts & DR_PART_CACHE) {
        json_array_append_new(environment,
                              env("REDIS_HOST", dr_getatt("Cache", "PrimaryEndPoint.Address")));
        json_array_append_new(environment,
                              env("REDIS_PORT", dr_getatt("Cache", "PrimaryEndPoint.Port")));
        json_array_append_new(environment, env("REDIS_SSL", json_string("True")));
    }
    if (b->db == DR_DB_REPLICA)
        json_array_append_new(environment, env("DISABLE_SCHEMA_UPDATE", json_string("True")));
    json_t *secrets = json_pack("[{s:s, s:o}, {s:s, s:o}, {s:s, s:o}]", "Name", "DATABASE_URL",
                                "ValueFrom", dr_sub("${DbSecret}:url::"), "Name",
                                "LITELLM_MASTER_KEY", "ValueFrom", dr_ref("MasterKeySecret"),
                                "Name", "LITELLM_SALT_KEY", "ValueFrom", dr_ref("SaltKeySecret"));
    if (p->cache.enabled)
        json_array_append_new(secrets, json_pack("{s:s, s:o}", "Name", "REDIS_PASSWORD",
                                                 "ValueFrom", dr_ref("CacheAuthSecret")));
    json_t *container = json_pack(
        "{s:s, s:s, s:b, s:[{s:i, s:s}], s:o, s:o, s:{s:s, s:{s:o, s:s, s:s}}, s:i,"
        " s:[{s:s, s:i, s:i}]}",
        "Name", "litellm", "Image", p->service.image, "Essential", 1, "PortMappings",
        "ContainerPort", p->service.port, "Protocol", "tcp", "Environment", environment, "Secrets",
        secrets, "LogConfiguration", "LogDriver", "awslogs", "Options", "awslogs-group",
        dr_ref("ServiceLogGroup"), "awslogs-region", b->region, "awslogs-stream-prefix", "litellm",
        "StopTimeout", 120, "Ulimits", "Name", "nofile", "SoftLimit", 65536, "HardLimit", 65536);
    char cpu[16], mem[16];
    snprintf(cpu, sizeof(cpu), "%d", p->service.cpu);
    snprintf(mem, sizeof(mem), "%d", p->service.memory);
    char *family = dr_model_name(b->stack, "litellm", 255);
    dr_mb_add(b, "TaskDefinition", "AWS::ECS::TaskDefinition",
              json_pack("{s:o, s:s, s:s, s:s, s:[s], s:o, s:o, s:{s:s, s:s}, s:[o]}", "Family",
                        dr_str_take(family), "Cpu", cpu, "Memory", mem, "NetworkMode", "awsvpc",
                        "RequiresCompatibilities", "FARGATE", "ExecutionRoleArn",
                        dr_getatt("ExecutionRole", "Arn"), "TaskRoleArn",
                        dr_getatt("TaskRole", "Arn"), "RuntimePlatform", "OperatingSystemFamily",
                        "LINUX", "CpuArchitecture", "X86_64", "ContainerDefinitions", container));
    dr_mb_output(b, "TaskDefinitionArn", dr_ref("TaskDefinition"), "LiteLLM task definition");
}

static json_t *forward(void)
{
    return json_pack("[{s:s, s:o}]", "Type", "forward", "TargetGroupArn", dr_ref("TargetGroup"));
}

static void load_balancer(dr_mb *b, int tls)
{
    const dr_region_profile *p = b->p;
    const int n = b->net.az_count;
    char *name = dr_model_name(b->stack, "alb", 32);
    dr_mb_add(b, "Alb", "AWS::ElasticLoadBalancingV2::LoadBalancer",
              json_pack("{s:o, s:s, s:s, s:s, s:o, s:[o], s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}",
                        "Name", dr_str_take(name), "Type", "application", "Scheme",
                        "internet-facing", "IpAddressType", "ipv4", "Subnets",
                        dr_refs_numbered("PublicSubnet", n, NULL), "SecurityGroups",
                        dr_getatt("AlbSecurityGroup", "GroupId"), "LoadBalancerAttributes", "Key",
                        "idle_timeout.timeout_seconds", "Value", "600", "Key",
                        "routing.http.drop_invalid_header_fields.enabled", "Value", "true", "Key",
                        "deletion_protection.enabled", "Value", "false"));
    name = dr_model_name(b->stack, "tg", 32);
    dr_mb_add(b, "TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup",
              json_pack("{s:o, s:i, s:s, s:s, s:o, s:b, s:s, s:s, s:i, s:i, s:i, s:i, s:{s:s},"
                        " s:[{s:s, s:s}]}",
                        "Name", dr_str_take(name), "Port", p->service.port, "Protocol", "HTTP",
                        "TargetType", "ip", "VpcId", dr_ref("Vpc"), "HealthCheckEnabled", 1,
                        "HealthCheckPath", p->service.health_path, "HealthCheckProtocol", "HTTP",
                        "HealthCheckIntervalSeconds", 15, "HealthCheckTimeoutSeconds", 5,
                        "HealthyThresholdCount", 2, "UnhealthyThresholdCount", 3, "Matcher",
                        "HttpCode", "200", "TargetGroupAttributes", "Key",
                        "deregistration_delay.timeout_seconds", "Value", "60"));
    if (tls)
        dr_mb_add(b, "HttpsListener", "AWS::ElasticLoadBalancingV2::Listener",
                  json_pack("{s:o, s:i, s:s, s:s, s:[{s:o}], s:o}", "LoadBalancerArn",
                            dr_ref("Alb"), "Port", 443, "Protocol", "HTTPS", "SslPolicy",
                            "ELBSecurityPolicy-TLS13-1-2-2021-06", "Certificates", "CertificateArn",
                            dr_ref("Certificate"), "DefaultActions", forward()));
    json_t *http_action =
        p->edge.enabled || !tls
            ? forward()
            : json_pack("[{s:s, s:{s:s, s:s, s:s}}]", "Type", "redirect", "RedirectConfig",
                        "Protocol", "HTTPS", "Port", "443", "StatusCode", "HTTP_301");
    dr_mb_add(b, "HttpListener", "AWS::ElasticLoadBalancingV2::Listener",
              json_pack("{s:o, s:i, s:s, s:o}", "LoadBalancerArn", dr_ref("Alb"), "Port", 80,
                        "Protocol", "HTTP", "DefaultActions", http_action));
    dr_mb_output(b, "AlbDnsName", dr_getatt("Alb", "DNSName"), "Load balancer DNS name");
    dr_mb_output(b, "AlbHostedZoneId", dr_getatt("Alb", "CanonicalHostedZoneID"),
                 "Load balancer canonical hosted zone id (for alias records)");
    dr_mb_output(b, "AlbArn", dr_ref("Alb"), "Load balancer ARN");
    dr_mb_output(b, "AlbFullName", dr_getatt("Alb", "LoadBalancerFullName"),
                 "Load balancer name in CloudWatch dimensions");
    dr_mb_output(b, "TargetGroupArn", dr_ref("TargetGroup"), "LiteLLM target group ARN");
}

static void service(dr_mb *b, int tls)
{
    const dr_region_profile *p = b->p;
    const int n = b->net.az_count;
    /* A resting pilot light keeps an empty service; everything else runs
     * service.desired_count (by default the scaling minimum). */
    int desired = b->state == DR_MODEL_RESTING && b->strategy == DR_STRATEGY_PILOT_LIGHT
                      ? 0
                      : p->service.desired_count;
    json_t *props = json_pack(
        "{s:s, s:o, s:o, s:i, s:{s:{s:o, s:[o], s:s}}, s:[{s:s, s:i, s:o}], s:i,"
        " s:{s:i, s:i, s:{s:b, s:b}}, s:s, s:b}",
        "ServiceName", "litellm", "Cluster", dr_ref("Cluster"), "TaskDefinition",
        dr_ref("TaskDefinition"), "DesiredCount", desired, "NetworkConfiguration",
        "AwsvpcConfiguration", "Subnets", dr_refs_numbered("PrivateSubnet", n, NULL),
        "SecurityGroups", dr_getatt("TaskSecurityGroup", "GroupId"), "AssignPublicIp", "DISABLED",
        "LoadBalancers", "ContainerName", "litellm", "ContainerPort", p->service.port,
        "TargetGroupArn", dr_ref("TargetGroup"), "HealthCheckGracePeriodSeconds", 120,
        "DeploymentConfiguration", "MinimumHealthyPercent", 100, "MaximumPercent", 200,
        "DeploymentCircuitBreaker", "Enable", 1, "Rollback", 1, "PropagateTags", "SERVICE",
        "EnableECSManagedTags", 1);
    if (p->service.fargate_spot)
        json_object_set_new(
            props, "CapacityProviderStrategy",
            json_pack("[{s:s, s:i}]", "CapacityProvider", "FARGATE_SPOT", "Weight", 1));
    else
        json_object_set_new(props, "LaunchType", json_string("FARGATE"));
    dr_resource *r = dr_mb_add(b, "Service", "AWS::ECS::Service", props);
    /* ECS refuses a target group that no listener uses yet. */
    dr_mb_depends(r, "HttpListener");
    if (tls)
        dr_mb_depends(r, "HttpsListener");
    dr_mb_output(b, "ServiceName", dr_getatt("Service", "Name"), "ECS service");
}

static void scaling_policy(dr_mb *b, const char *id, const char *purpose, const char *metric,
                           int target)
{
    char *name = dr_model_name(b->stack, purpose, 255);
    dr_mb_add(b, id, "AWS::ApplicationAutoScaling::ScalingPolicy",
              json_pack("{s:o, s:s, s:o, s:{s:f, s:{s:s}, s:i, s:i}}", "PolicyName",
                        dr_str_take(name), "PolicyType", "TargetTrackingScaling", "ScalingTargetId",
                        dr_ref("ScalableTarget"), "TargetTrackingScalingPolicyConfiguration",
                        "TargetValue", (double)target, "PredefinedMetricSpecification",
                        "PredefinedMetricType", metric, "ScaleInCooldown", 300, "ScaleOutCooldown",
                        60));
}

static void scaling(dr_mb *b)
{
    const dr_region_profile *p = b->p;
    dr_mb_add(b, "ScalableTarget", "AWS::ApplicationAutoScaling::ScalableTarget",
              json_pack("{s:i, s:i, s:o, s:s, s:s}", "MinCapacity", p->service.min_tasks,
                        "MaxCapacity", p->service.max_tasks, "ResourceId",
                        dr_join("/", json_pack("[s, o, o]", "service", dr_ref("Cluster"),
                                               dr_getatt("Service", "Name"))),
                        "ScalableDimension", "ecs:service:DesiredCount", "ServiceNamespace",
                        "ecs"));
    scaling_policy(b, "CpuScalingPolicy", "cpu-target", "ECSServiceAverageCPUUtilization",
                   p->service.cpu_target);
    scaling_policy(b, "MemoryScalingPolicy", "memory-target", "ECSServiceAverageMemoryUtilization",
                   p->service.memory_target);
}

void dr_build_compute(dr_mb *b)
{
    int tls = dr_model_find(b->m, "Certificate") != NULL;
    cluster(b);
    task_definition(b);
    load_balancer(b, tls);
    service(b, tls);
    if (b->parts & DR_PART_SCALING)
        scaling(b);
}
