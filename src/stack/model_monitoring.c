/*
 * model_monitoring.c - the monitoring family: log groups with retention,
 * CloudWatch alarms and a dashboard.
 *
 * Why it looks like this:
 * - Every log group has a retention (logs.retention_days): logs kept
 *   forever are a cost and a liability.
 * - Alarms cover what says "this region cannot serve": tasks out of CPU or
 *   memory, the load balancer answering 5xx, unhealthy targets, the
 *   database out of CPU, storage or connections, Redis out of CPU or
 *   memory. Only for what the model has: a resting pilot light has no
 *   database alarms. Missing data is not breaching, so that an idle or
 *   resting region stays quiet.
 * - The database connection threshold is 80 % of PostgreSQL's default
 *   max_connections on RDS (LEAST(memory / 9531392, 5000)), from the
 *   instance class's memory.
 * - The dashboard shows the same metrics; it is a Fn::Sub over a JSON body
 *   so that it names the live resources. Dashboard names are account-wide,
 *   hence the region in the name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/model_int.h"
#include "util/mem.h"

void dr_build_monitoring_logs(dr_mb *b)
{
    const dr_region_profile *p = b->p;
    if (b->parts & DR_PART_COMPUTE) {
        char *name = dr_xasprintf("/drctl/%s/litellm", b->stack);
        dr_resource *r = dr_mb_add(b, "ServiceLogGroup", "AWS::Logs::LogGroup",
                                   json_pack("{s:o, s:i}", "LogGroupName", dr_str_take(name),
                                             "RetentionInDays", p->log_retention_days));
        /* Logs expire by retention anyway; a torn-down stack takes them. */
        r->deletion_policy = "Delete";
        dr_mb_output(b, "LogGroupName", dr_ref("ServiceLogGroup"), "LiteLLM container logs");
    }
    if ((b->parts & DR_PART_NETWORK) && p->network.flow_logs) {
        char *name = dr_xasprintf("/drctl/%s/vpc-flow-logs", b->stack);
        dr_resource *r = dr_mb_add(b, "FlowLogGroup", "AWS::Logs::LogGroup",
                                   json_pack("{s:o, s:i}", "LogGroupName", dr_str_take(name),
                                             "RetentionInDays", p->log_retention_days));
        r->deletion_policy = "Delete";
    }
}

/* GiB of memory of an RDS instance class, from its size suffix and family
 * (t/m: 2:1 GiB per vCPU-ish steps, r/x: memory-optimised, twice m). */
static double class_memory_gib(const char *cls)
{
    static const struct {
        const char *size;
        double gib; /* for m-family */
    } sizes[] = {{"micro", 1},      {"small", 2},      {"medium", 4},     {"large", 8},
                 {"xlarge", 16},    {"2xlarge", 32},   {"4xlarge", 64},   {"8xlarge", 128},
                 {"12xlarge", 192}, {"16xlarge", 256}, {"24xlarge", 384}, {"32xlarge", 512}};
    const char *dot = cls ? strrchr(cls, '.') : NULL;
    if (!dot || strncmp(cls, "db.", 3) != 0)
        return 0;
    double gib = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        if (strcmp(dot + 1, sizes[i].size) == 0)
            gib = sizes[i].gib;
    char family = cls[3];
    if (family == 'r' || family == 'x')
        gib *= 2;
    return gib;
}

static int db_connection_threshold(const char *cls)
{
    double gib = class_memory_gib(cls);
    double max = gib > 0 ? gib * 1073741824.0 / 9531392.0 : 400;
    if (max > 5000)
        max = 5000;
    return (int)(max * 0.8);
}

static void alarm(dr_mb *b, const char *id, const char *purpose, const char *desc, const char *ns,
                  const char *metric, json_t *dims, const char *stat, int periods, double threshold,
                  const char *op)
{
    char *name = dr_model_name(b->stack, purpose, 255);
    dr_mb_add(b, id, "AWS::CloudWatch::Alarm",
              json_pack("{s:o, s:s, s:s, s:s, s:o, s:s, s:i, s:i, s:i, s:f, s:s, s:s}", "AlarmName",
                        dr_str_take(name), "AlarmDescription", desc, "Namespace", ns, "MetricName",
                        metric, "Dimensions", dims, "Statistic", stat, "Period", 60,
                        "EvaluationPeriods", periods, "DatapointsToAlarm", periods, "Threshold",
                        threshold, "ComparisonOperator", op, "TreatMissingData", "notBreaching"));
}

static json_t *dim(const char *name, json_t *value)
{
    return json_pack("{s:s, s:o}", "Name", name, "Value", value);
}

static void alarms(dr_mb *b)
{
    const dr_region_profile *p = b->p;
    const char *gt = "GreaterThanThreshold";
    alarm(b, "ServiceCpuAlarm", "service-cpu", "LiteLLM tasks: CPU above 90 % for 5 minutes",
          "AWS/ECS", "CPUUtilization",
          json_pack("[o, o]", dim("ClusterName", dr_ref("Cluster")),
                    dim("ServiceName", dr_getatt("Service", "Name"))),
          "Average", 5, 90, gt);
    alarm(b, "ServiceMemoryAlarm", "service-memory",
          "LiteLLM tasks: memory above 90 % for 5 minutes", "AWS/ECS", "MemoryUtilization",
          json_pack("[o, o]", dim("ClusterName", dr_ref("Cluster")),
                    dim("ServiceName", dr_getatt("Service", "Name"))),
          "Average", 5, 90, gt);
    alarm(b, "Alb5xxAlarm", "alb-5xx",
          "Load balancer: more than 10 5xx answers a minute for 5 minutes", "AWS/ApplicationELB",
          "HTTPCode_ELB_5XX_Count",
          json_pack("[o]", dim("LoadBalancer", dr_getatt("Alb", "LoadBalancerFullName"))), "Sum", 5,
          10, gt);
    alarm(b, "UnhealthyHostsAlarm", "unhealthy-hosts",
          "Target group: unhealthy LiteLLM targets for 3 minutes", "AWS/ApplicationELB",
          "UnHealthyHostCount",
          json_pack("[o, o]", dim("TargetGroup", dr_getatt("TargetGroup", "TargetGroupFullName")),
                    dim("LoadBalancer", dr_getatt("Alb", "LoadBalancerFullName"))),
          "Maximum", 3, 0, gt);
    if (b->parts & DR_PART_DB) {
        json_t *db = json_pack("[o]", dim("DBInstanceIdentifier", dr_ref("Db")));
        alarm(b, "DbCpuAlarm", "db-cpu", "Database: CPU above 80 % for 5 minutes", "AWS/RDS",
              "CPUUtilization", json_deep_copy(db), "Average", 5, 80, gt);
        /* 10 % of the allocated storage, in bytes. */
        double low = p->database.allocated_storage * 1073741824.0 * 0.10;
        alarm(b, "DbFreeStorageAlarm", "db-free-storage",
              "Database: less than 10 % of the storage free", "AWS/RDS", "FreeStorageSpace",
              json_deep_copy(db), "Minimum", 5, low, "LessThanThreshold");
        char desc[160];
        int conn = db_connection_threshold(p->database.instance_class);
        snprintf(desc, sizeof(desc),
                 "Database: more than %d connections (80 %% of max_connections of %s)", conn,
                 p->database.instance_class);
        alarm(b, "DbConnectionsAlarm", "db-connections", desc, "AWS/RDS", "DatabaseConnections", db,
              "Maximum", 5, conn, gt);
    }
    if (b->parts & DR_PART_CACHE) {
        /* ElastiCache metrics are per node; node 001 is the primary at
         * creation. */
        char *rg = dr_model_name(b->stack, "cache", 40);
        char *node = dr_xasprintf("%s-001", rg);
        free(rg);
        alarm(b, "CacheCpuAlarm", "cache-cpu", "Redis: engine CPU above 80 % for 5 minutes",
              "AWS/ElastiCache", "EngineCPUUtilization",
              json_pack("[o]", dim("CacheClusterId", json_string(node))), "Average", 5, 80, gt);
        alarm(b, "CacheMemoryAlarm", "cache-memory", "Redis: memory above 80 % for 5 minutes",
              "AWS/ElastiCache", "DatabaseMemoryUsagePercentage",
              json_pack("[o]", dim("CacheClusterId", json_string(node))), "Average", 5, 80, gt);
        free(node);
    }
}

static json_t *widget(int x, int y, const char *title, json_t *metrics, const char *region)
{
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:{s:s, s:o, s:s, s:s, s:i}}", "type", "metric",
                     "x", x, "y", y, "width", 12, "height", 6, "properties", "title", title,
                     "metrics", metrics, "region", region, "view", "timeSeries", "period", 60);
}

static void dashboard(dr_mb *b)
{
    json_t *widgets = json_array();
    int y = 0;
    json_array_append_new(
        widgets, widget(0, y, "LiteLLM tasks: CPU and memory %",
                        json_pack("[[s, s, s, s, s, s], [s, s, s, s, s, s]]", "AWS/ECS",
                                  "CPUUtilization", "ClusterName", "${Cluster}", "ServiceName",
                                  "${Service.Name}", "AWS/ECS", "MemoryUtilization", "ClusterName",
                                  "${Cluster}", "ServiceName", "${Service.Name}"),
                        b->region));
    json_array_append_new(
        widgets,
        widget(12, y, "Load balancer: requests and 5xx",
               json_pack("[[s, s, s, s], [s, s, s, s], [s, s, s, s]]", "AWS/ApplicationELB",
                         "RequestCount", "LoadBalancer", "${Alb.LoadBalancerFullName}",
                         "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer",
                         "${Alb.LoadBalancerFullName}", "AWS/ApplicationELB",
                         "HTTPCode_Target_5XX_Count", "LoadBalancer",
                         "${Alb.LoadBalancerFullName}"),
               b->region));
    y += 6;
    json_array_append_new(
        widgets,
        widget(0, y, "Targets: healthy and unhealthy",
               json_pack("[[s, s, s, s, s, s], [s, s, s, s, s, s]]", "AWS/ApplicationELB",
                         "HealthyHostCount", "TargetGroup", "${TargetGroup.TargetGroupFullName}",
                         "LoadBalancer", "${Alb.LoadBalancerFullName}", "AWS/ApplicationELB",
                         "UnHealthyHostCount", "TargetGroup", "${TargetGroup.TargetGroupFullName}",
                         "LoadBalancer", "${Alb.LoadBalancerFullName}"),
               b->region));
    json_array_append_new(
        widgets, widget(12, y, "Load balancer: target response time",
                        json_pack("[[s, s, s, s]]", "AWS/ApplicationELB", "TargetResponseTime",
                                  "LoadBalancer", "${Alb.LoadBalancerFullName}"),
                        b->region));
    y += 6;
    if (b->parts & DR_PART_DB) {
        json_array_append_new(
            widgets, widget(0, y, "Database: CPU % and connections",
                            json_pack("[[s, s, s, s], [s, s, s, s]]", "AWS/RDS", "CPUUtilization",
                                      "DBInstanceIdentifier", "${Db}", "AWS/RDS",
                                      "DatabaseConnections", "DBInstanceIdentifier", "${Db}"),
                            b->region));
        json_array_append_new(widgets,
                              widget(12, y, "Database: free storage bytes",
                                     json_pack("[[s, s, s, s]]", "AWS/RDS", "FreeStorageSpace",
                                               "DBInstanceIdentifier", "${Db}"),
                                     b->region));
        y += 6;
    }
    if (b->parts & DR_PART_CACHE) {
        char *rg = dr_model_name(b->stack, "cache", 40);
        char *node = dr_xasprintf("%s-001", rg);
        free(rg);
        json_array_append_new(
            widgets,
            widget(0, y, "Redis: engine CPU and memory %",
                   json_pack("[[s, s, s, s], [s, s, s, s]]", "AWS/ElastiCache",
                             "EngineCPUUtilization", "CacheClusterId", node, "AWS/ElastiCache",
                             "DatabaseMemoryUsagePercentage", "CacheClusterId", node),
                   b->region));
        free(node);
    }
    json_t *body = json_pack("{s:o}", "widgets", widgets);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *tail = dr_xasprintf("%s-%s", b->stack, b->region);
    dr_mb_add(b, "Dashboard", "AWS::CloudWatch::Dashboard",
              json_pack("{s:o, s:{s:s}}", "DashboardName", dr_str_take(tail), "DashboardBody",
                        "Fn::Sub", text));
    free(text);
    dr_mb_output(b, "DashboardName", dr_ref("Dashboard"), "CloudWatch dashboard");
}

void dr_build_monitoring(dr_mb *b)
{
    if (!(b->parts & DR_PART_COMPUTE))
        return;
    alarms(b);
    dashboard(b);
}
