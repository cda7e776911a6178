/*
 * test_res_compute.c - the pure helpers of the compute family's handlers
 * (src/stack/res_compute.c): CloudFormation -> ECS API member names,
 * CloudFormation values -> ELBv2 query parameters, and the identifiers the
 * handlers take apart (scalable target ids, scaling policy ARNs, service
 * ARNs, load balancer and target group ARNs).
 */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/kv.h"

/* Exported by res_compute.c for these tests. */
json_t *dr_compute_ecs_keys(json_t *v);
void dr_compute_query_flatten(dr_kvlist *out, const char *prefix, json_t *v);
int dr_compute_target_id_parse(const char *id, char **rid, char **dim, char **ns);
int dr_compute_policy_arn_parse(const char *arn, char **ns, char **rid, char **name);
char *dr_compute_service_cluster(const char *arn);
char *dr_compute_elb_full_name(const char *arn);

/* ---- CloudFormation -> ECS names ---------------------------------------- */

static json_t *get_path(json_t *v, const char *path)
{
    /* "a.b[0].c" style: members by name, [n] for list elements. */
    char *copy = strdup(path), *save = NULL;
    for (char *seg = strtok_r(copy, ".", &save); seg && v; seg = strtok_r(NULL, ".", &save)) {
        char *br = strchr(seg, '[');
        if (br)
            *br = '\0';
        v = json_object_get(v, seg);
        if (br)
            v = json_array_get(v, (size_t)atoi(br + 1));
    }
    free(copy);
    return v;
}

static const char *str_at(json_t *v, const char *path)
{
    return json_string_value(get_path(v, path));
}

/* The task definition as model_compute.c writes it, references resolved. */
static json_t *model_task_definition(void)
{
    json_t *td = json_loads(
        "{\"Family\": \"drill-litellm\", \"Cpu\": \"1024\", \"Memory\": \"2048\","
        " \"NetworkMode\": \"awsvpc\", \"RequiresCompatibilities\": [\"FARGATE\"],"
        " \"ExecutionRoleArn\": \"arn:aws:iam::123456789012:role/exec\","
        " \"TaskRoleArn\": \"arn:aws:iam::123456789012:role/task\","
        " \"RuntimePlatform\": {\"OperatingSystemFamily\": \"LINUX\", \"CpuArchitecture\": "
        "\"X86_64\"},"
        " \"ContainerDefinitions\": [{\"Name\": \"litellm\", \"Image\": "
        "\"ghcr.io/berriai/litellm@sha256:abc\", \"Essential\": true,"
        "  \"PortMappings\": [{\"ContainerPort\": 4000, \"Protocol\": \"tcp\"}],"
        "  \"Environment\": [{\"Name\": \"LITELLM_MODE\", \"Value\": \"PRODUCTION\"}],"
        "  \"Secrets\": [{\"Name\": \"DATABASE_URL\", \"ValueFrom\": "
        "\"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:url::\"},"
        "               {\"Name\": \"LITELLM_MASTER_KEY\", \"ValueFrom\": "
        "\"arn:aws:secretsmanager:us-east-1:123456789012:secret:mk-AbCdEf\"}],"
        "  \"LogConfiguration\": {\"LogDriver\": \"awslogs\", \"Options\": {\"awslogs-group\": "
        "\"/drill/litellm\", \"awslogs-region\": \"us-east-1\", \"awslogs-stream-prefix\": "
        "\"litellm\"}},"
        "  \"HealthCheck\": {\"Command\": [\"CMD-SHELL\", \"curl -f "
        "http://localhost:4000/health/liveliness\"], \"Interval\": 30, \"StartPeriod\": 60},"
        "  \"StopTimeout\": 120,"
        "  \"Ulimits\": [{\"Name\": \"nofile\", \"SoftLimit\": 65536, \"HardLimit\": 65536}]}],"
        " \"Tags\": [{\"Key\": \"drctl:stack\", \"Value\": \"drill\"}]}",
        0, NULL);
    cr_assert(td);
    return td;
}

Test(ecs_keys, model_task_definition)
{
    json_t *cfn = model_task_definition();
    json_t *before = json_deep_copy(cfn);
    json_t *api = dr_compute_ecs_keys(cfn);
    cr_assert(json_equal(cfn, before), "the input is left alone");

    cr_expect_str_eq(str_at(api, "family"), "drill-litellm");
    /* Values keep their types: cpu and memory are strings in both. */
    cr_expect_str_eq(str_at(api, "cpu"), "1024");
    cr_expect_str_eq(str_at(api, "memory"), "2048");
    cr_expect_str_eq(str_at(api, "networkMode"), "awsvpc");
    cr_expect_str_eq(str_at(api, "requiresCompatibilities[0]"), "FARGATE");
    cr_expect_str_eq(str_at(api, "executionRoleArn"), "arn:aws:iam::123456789012:role/exec");
    cr_expect_str_eq(str_at(api, "taskRoleArn"), "arn:aws:iam::123456789012:role/task");
    cr_expect_str_eq(str_at(api, "runtimePlatform.operatingSystemFamily"), "LINUX");
    cr_expect_str_eq(str_at(api, "runtimePlatform.cpuArchitecture"), "X86_64");
    cr_expect_str_eq(str_at(api, "containerDefinitions[0].name"), "litellm");
    cr_expect(json_is_true(get_path(api, "containerDefinitions[0].essential")));
    cr_expect_eq(
        json_integer_value(get_path(api, "containerDefinitions[0].portMappings[0].containerPort")),
        4000);
    cr_expect_str_eq(str_at(api, "containerDefinitions[0].environment[0].name"), "LITELLM_MODE");
    cr_expect_str_eq(str_at(api, "containerDefinitions[0].environment[0].value"), "PRODUCTION");
    /* A JSON-key suffix on the secret's ARN is a value: untouched. */
    cr_expect_str_eq(str_at(api, "containerDefinitions[0].secrets[0].valueFrom"),
                     "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:url::");
    cr_expect_str_eq(str_at(api, "containerDefinitions[0].secrets[1].name"), "LITELLM_MASTER_KEY");
    cr_expect_str_eq(str_at(api, "containerDefinitions[0].logConfiguration.logDriver"), "awslogs");
    /* Log options are a map: their keys are awslogs', not CloudFormation's. */
    json_t *opts = get_path(api, "containerDefinitions[0].logConfiguration.options");
    cr_expect_eq(json_object_size(opts), 3);
    cr_expect_str_eq(json_string_value(json_object_get(opts, "awslogs-group")), "/drill/litellm");
    cr_expect_str_eq(json_string_value(json_object_get(opts, "awslogs-stream-prefix")), "litellm");
    cr_expect_eq(
        json_integer_value(get_path(api, "containerDefinitions[0].healthCheck.startPeriod")), 60);
    cr_expect_str_eq(str_at(api, "containerDefinitions[0].healthCheck.command[0]"), "CMD-SHELL");
    cr_expect_eq(json_integer_value(get_path(api, "containerDefinitions[0].stopTimeout")), 120);
    cr_expect_eq(json_integer_value(get_path(api, "containerDefinitions[0].ulimits[0].softLimit")),
                 65536);
    cr_expect_str_eq(str_at(api, "tags[0].key"), "drctl:stack");
    cr_expect_str_eq(str_at(api, "tags[0].value"), "drill");
    /* Nothing PascalCase is left anywhere outside the maps. */
    char *dump = json_dumps(api, JSON_SORT_KEYS);
    for (const char *p = dump; (p = strchr(p, '"')) != NULL; p++) {
        if (p[1] >= 'A' && p[1] <= 'Z') {
            /* Only values may start upper-case (LINUX, FARGATE, CMD-SHELL...). */
            const char *end = strchr(p + 1, '"');
            cr_assert(end);
            cr_expect(end[1] != ':', "a PascalCase key is left: %.*s", (int)(end - p + 1), p);
            p = end;
        }
    }
    free(dump);
    json_decref(api);
    json_decref(cfn);
    json_decref(before);
}

Test(ecs_keys, exceptions_and_maps)
{
    json_t *cfn = json_loads(
        "{\"Volumes\": [{\"Name\": \"data\", \"EFSVolumeConfiguration\": {\"FilesystemId\": "
        "\"fs-1\", \"AuthorizationConfig\": {\"IAM\": \"ENABLED\", \"AccessPointId\": \"ap-1\"}},"
        "  \"DockerVolumeConfiguration\": {\"DriverOpts\": {\"Type\": \"nfs\"}, \"Labels\": "
        "{\"Com.Example\": \"x\"}}},"
        "  {\"Name\": \"win\", \"FSxWindowsFileServerVolumeConfiguration\": {\"FileSystemId\": "
        "\"fs-2\", \"RootDirectory\": \"/\"}}],"
        " \"ProxyConfiguration\": {\"ContainerName\": \"envoy\", \"Type\": \"APPMESH\","
        "  \"ProxyConfigurationProperties\": [{\"Name\": \"IgnoredUID\", \"Value\": \"1337\"}]},"
        " \"ContainerDefinitions\": [{\"DockerLabels\": {\"Team\": \"DR\", \"com.x\": \"y\"},"
        "  \"FirelensConfiguration\": {\"Type\": \"fluentbit\", \"Options\": {\"Enable-ECS-Log-"
        "Metadata\": \"true\"}}}],"
        " \"PlacementStrategies\": [{\"Type\": \"spread\", \"Field\": \"attribute:ecs.az\"}],"
        " \"ClusterSettings\": [{\"Name\": \"containerInsights\", \"Value\": \"enabled\"}],"
        " \"EnableECSManagedTags\": true}",
        0, NULL);
    cr_assert(cfn);
    json_t *api = dr_compute_ecs_keys(cfn);
    cr_expect_str_eq(str_at(api, "volumes[0].efsVolumeConfiguration.fileSystemId"), "fs-1");
    cr_expect_str_eq(str_at(api, "volumes[0].efsVolumeConfiguration.authorizationConfig.iam"),
                     "ENABLED");
    cr_expect_str_eq(
        str_at(api, "volumes[0].efsVolumeConfiguration.authorizationConfig.accessPointId"), "ap-1");
    cr_expect_str_eq(str_at(api, "volumes[0].dockerVolumeConfiguration.driverOpts.Type"), "nfs");
    cr_expect_str_eq(
        json_string_value(json_object_get(
            get_path(api, "volumes[0].dockerVolumeConfiguration.labels"), "Com.Example")),
        "x");
    cr_expect_str_eq(str_at(api, "volumes[1].fsxWindowsFileServerVolumeConfiguration.fileSystemId"),
                     "fs-2");
    cr_expect_str_eq(str_at(api, "proxyConfiguration.properties[0].name"), "IgnoredUID");
    cr_expect_str_eq(str_at(api, "proxyConfiguration.containerName"), "envoy");
    cr_expect_str_eq(str_at(api, "containerDefinitions[0].dockerLabels.Team"), "DR");
    cr_expect_str_eq(str_at(api, "containerDefinitions[0].firelensConfiguration.type"),
                     "fluentbit");
    cr_expect_str_eq(
        str_at(api,
               "containerDefinitions[0].firelensConfiguration.options.Enable-ECS-Log-Metadata"),
        "true");
    cr_expect_str_eq(str_at(api, "placementStrategy[0].type"), "spread");
    cr_expect_str_eq(str_at(api, "placementStrategy[0].field"), "attribute:ecs.az");
    cr_expect_str_eq(str_at(api, "settings[0].name"), "containerInsights");
    cr_expect(json_is_true(json_object_get(api, "enableECSManagedTags")));
    json_decref(api);
    json_decref(cfn);
}

Test(ecs_keys, scalars_and_null)
{
    cr_expect_null(dr_compute_ecs_keys(NULL));
    json_t *s = json_string("Value");
    json_t *t = dr_compute_ecs_keys(s);
    cr_expect(json_equal(s, t));
    cr_expect_neq(s, t, "a copy, not the same value");
    json_decref(s);
    json_decref(t);
}

/*
 * Every property path of AWS::ECS::TaskDefinition, AWS::ECS::Service and
 * AWS::ECS::Cluster (cfn-lint 1.51's CloudFormation schemas) with the
 * member path botocore's ecs model (2014-11-13) has for it in
 * RegisterTaskDefinition, CreateService and CreateCluster. "[]" is a list
 * element, "{}" a map whose keys are the user's. Generated by walking both
 * documents together; a CloudFormation name with no API member is left out
 * (read-only ones, ForceNewDeployment).
 */
static const struct {
    const char *cfn, *api;
} paths[] = {
    {"AvailabilityZoneRebalancing", "availabilityZoneRebalancing"},
    {"CapacityProviderStrategy[].Base", "capacityProviderStrategy[].base"},
    {"CapacityProviderStrategy[].CapacityProvider", "capacityProviderStrategy[].capacityProvider"},
    {"CapacityProviderStrategy[].Weight", "capacityProviderStrategy[].weight"},
    {"CapacityProviders[]", "capacityProviders[]"},
    {"Cluster", "cluster"},
    {"ClusterName", "clusterName"},
    {"ClusterSettings[].Name", "settings[].name"},
    {"ClusterSettings[].Value", "settings[].value"},
    {"Configuration.ExecuteCommandConfiguration.KmsKeyId",
     "configuration.executeCommandConfiguration.kmsKeyId"},
    {"Configuration.ExecuteCommandConfiguration.LogConfiguration.CloudWatchEncryptionEnabled",
     "configuration.executeCommandConfiguration.logConfiguration.cloudWatchEncryptionEnabled"},
    {"Configuration.ExecuteCommandConfiguration.LogConfiguration.CloudWatchLogGroupName",
     "configuration.executeCommandConfiguration.logConfiguration.cloudWatchLogGroupName"},
    {"Configuration.ExecuteCommandConfiguration.LogConfiguration.S3BucketName",
     "configuration.executeCommandConfiguration.logConfiguration.s3BucketName"},
    {"Configuration.ExecuteCommandConfiguration.LogConfiguration.S3EncryptionEnabled",
     "configuration.executeCommandConfiguration.logConfiguration.s3EncryptionEnabled"},
    {"Configuration.ExecuteCommandConfiguration.LogConfiguration.S3KeyPrefix",
     "configuration.executeCommandConfiguration.logConfiguration.s3KeyPrefix"},
    {"Configuration.ExecuteCommandConfiguration.Logging",
     "configuration.executeCommandConfiguration.logging"},
    {"Configuration.ManagedStorageConfiguration.FargateEphemeralStorageKmsKeyId",
     "configuration.managedStorageConfiguration.fargateEphemeralStorageKmsKeyId"},
    {"Configuration.ManagedStorageConfiguration.KmsKeyId",
     "configuration.managedStorageConfiguration.kmsKeyId"},
    {"ContainerDefinitions[].Command[]", "containerDefinitions[].command[]"},
    {"ContainerDefinitions[].Cpu", "containerDefinitions[].cpu"},
    {"ContainerDefinitions[].CredentialSpecs[]", "containerDefinitions[].credentialSpecs[]"},
    {"ContainerDefinitions[].DependsOn[].Condition",
     "containerDefinitions[].dependsOn[].condition"},
    {"ContainerDefinitions[].DependsOn[].ContainerName",
     "containerDefinitions[].dependsOn[].containerName"},
    {"ContainerDefinitions[].DisableNetworking", "containerDefinitions[].disableNetworking"},
    {"ContainerDefinitions[].DnsSearchDomains[]", "containerDefinitions[].dnsSearchDomains[]"},
    {"ContainerDefinitions[].DnsServers[]", "containerDefinitions[].dnsServers[]"},
    {"ContainerDefinitions[].DockerLabels{}", "containerDefinitions[].dockerLabels{}"},
    {"ContainerDefinitions[].DockerSecurityOptions[]",
     "containerDefinitions[].dockerSecurityOptions[]"},
    {"ContainerDefinitions[].EntryPoint[]", "containerDefinitions[].entryPoint[]"},
    {"ContainerDefinitions[].EnvironmentFiles[].Type",
     "containerDefinitions[].environmentFiles[].type"},
    {"ContainerDefinitions[].EnvironmentFiles[].Value",
     "containerDefinitions[].environmentFiles[].value"},
    {"ContainerDefinitions[].Environment[].Name", "containerDefinitions[].environment[].name"},
    {"ContainerDefinitions[].Environment[].Value", "containerDefinitions[].environment[].value"},
    {"ContainerDefinitions[].Essential", "containerDefinitions[].essential"},
    {"ContainerDefinitions[].ExtraHosts[].Hostname",
     "containerDefinitions[].extraHosts[].hostname"},
    {"ContainerDefinitions[].ExtraHosts[].IpAddress",
     "containerDefinitions[].extraHosts[].ipAddress"},
    {"ContainerDefinitions[].FirelensConfiguration.Options{}",
     "containerDefinitions[].firelensConfiguration.options{}"},
    {"ContainerDefinitions[].FirelensConfiguration.Type",
     "containerDefinitions[].firelensConfiguration.type"},
    {"ContainerDefinitions[].HealthCheck.Command[]",
     "containerDefinitions[].healthCheck.command[]"},
    {"ContainerDefinitions[].HealthCheck.Interval", "containerDefinitions[].healthCheck.interval"},
    {"ContainerDefinitions[].HealthCheck.Retries", "containerDefinitions[].healthCheck.retries"},
    {"ContainerDefinitions[].HealthCheck.StartPeriod",
     "containerDefinitions[].healthCheck.startPeriod"},
    {"ContainerDefinitions[].HealthCheck.Timeout", "containerDefinitions[].healthCheck.timeout"},
    {"ContainerDefinitions[].Hostname", "containerDefinitions[].hostname"},
    {"ContainerDefinitions[].Image", "containerDefinitions[].image"},
    {"ContainerDefinitions[].Interactive", "containerDefinitions[].interactive"},
    {"ContainerDefinitions[].Links[]", "containerDefinitions[].links[]"},
    {"ContainerDefinitions[].LinuxParameters.Capabilities.Add[]",
     "containerDefinitions[].linuxParameters.capabilities.add[]"},
    {"ContainerDefinitions[].LinuxParameters.Capabilities.Drop[]",
     "containerDefinitions[].linuxParameters.capabilities.drop[]"},
    {"ContainerDefinitions[].LinuxParameters.Devices[].ContainerPath",
     "containerDefinitions[].linuxParameters.devices[].containerPath"},
    {"ContainerDefinitions[].LinuxParameters.Devices[].HostPath",
     "containerDefinitions[].linuxParameters.devices[].hostPath"},
    {"ContainerDefinitions[].LinuxParameters.Devices[].Permissions[]",
     "containerDefinitions[].linuxParameters.devices[].permissions[]"},
    {"ContainerDefinitions[].LinuxParameters.InitProcessEnabled",
     "containerDefinitions[].linuxParameters.initProcessEnabled"},
    {"ContainerDefinitions[].LinuxParameters.MaxSwap",
     "containerDefinitions[].linuxParameters.maxSwap"},
    {"ContainerDefinitions[].LinuxParameters.SharedMemorySize",
     "containerDefinitions[].linuxParameters.sharedMemorySize"},
    {"ContainerDefinitions[].LinuxParameters.Swappiness",
     "containerDefinitions[].linuxParameters.swappiness"},
    {"ContainerDefinitions[].LinuxParameters.Tmpfs[].ContainerPath",
     "containerDefinitions[].linuxParameters.tmpfs[].containerPath"},
    {"ContainerDefinitions[].LinuxParameters.Tmpfs[].MountOptions[]",
     "containerDefinitions[].linuxParameters.tmpfs[].mountOptions[]"},
    {"ContainerDefinitions[].LinuxParameters.Tmpfs[].Size",
     "containerDefinitions[].linuxParameters.tmpfs[].size"},
    {"ContainerDefinitions[].LogConfiguration.LogDriver",
     "containerDefinitions[].logConfiguration.logDriver"},
    {"ContainerDefinitions[].LogConfiguration.Options{}",
     "containerDefinitions[].logConfiguration.options{}"},
    {"ContainerDefinitions[].LogConfiguration.SecretOptions[].Name",
     "containerDefinitions[].logConfiguration.secretOptions[].name"},
    {"ContainerDefinitions[].LogConfiguration.SecretOptions[].ValueFrom",
     "containerDefinitions[].logConfiguration.secretOptions[].valueFrom"},
    {"ContainerDefinitions[].Memory", "containerDefinitions[].memory"},
    {"ContainerDefinitions[].MemoryReservation", "containerDefinitions[].memoryReservation"},
    {"ContainerDefinitions[].MountPoints[].ContainerPath",
     "containerDefinitions[].mountPoints[].containerPath"},
    {"ContainerDefinitions[].MountPoints[].ReadOnly",
     "containerDefinitions[].mountPoints[].readOnly"},
    {"ContainerDefinitions[].MountPoints[].SourceVolume",
     "containerDefinitions[].mountPoints[].sourceVolume"},
    {"ContainerDefinitions[].Name", "containerDefinitions[].name"},
    {"ContainerDefinitions[].PortMappings[].AppProtocol",
     "containerDefinitions[].portMappings[].appProtocol"},
    {"ContainerDefinitions[].PortMappings[].ContainerPort",
     "containerDefinitions[].portMappings[].containerPort"},
    {"ContainerDefinitions[].PortMappings[].ContainerPortRange",
     "containerDefinitions[].portMappings[].containerPortRange"},
    {"ContainerDefinitions[].PortMappings[].HostPort",
     "containerDefinitions[].portMappings[].hostPort"},
    {"ContainerDefinitions[].PortMappings[].Name", "containerDefinitions[].portMappings[].name"},
    {"ContainerDefinitions[].PortMappings[].Protocol",
     "containerDefinitions[].portMappings[].protocol"},
    {"ContainerDefinitions[].Privileged", "containerDefinitions[].privileged"},
    {"ContainerDefinitions[].PseudoTerminal", "containerDefinitions[].pseudoTerminal"},
    {"ContainerDefinitions[].ReadonlyRootFilesystem",
     "containerDefinitions[].readonlyRootFilesystem"},
    {"ContainerDefinitions[].RepositoryCredentials.CredentialsParameter",
     "containerDefinitions[].repositoryCredentials.credentialsParameter"},
    {"ContainerDefinitions[].ResourceRequirements[].Type",
     "containerDefinitions[].resourceRequirements[].type"},
    {"ContainerDefinitions[].ResourceRequirements[].Value",
     "containerDefinitions[].resourceRequirements[].value"},
    {"ContainerDefinitions[].RestartPolicy.Enabled",
     "containerDefinitions[].restartPolicy.enabled"},
    {"ContainerDefinitions[].RestartPolicy.IgnoredExitCodes[]",
     "containerDefinitions[].restartPolicy.ignoredExitCodes[]"},
    {"ContainerDefinitions[].RestartPolicy.RestartAttemptPeriod",
     "containerDefinitions[].restartPolicy.restartAttemptPeriod"},
    {"ContainerDefinitions[].Secrets[].Name", "containerDefinitions[].secrets[].name"},
    {"ContainerDefinitions[].Secrets[].ValueFrom", "containerDefinitions[].secrets[].valueFrom"},
    {"ContainerDefinitions[].StartTimeout", "containerDefinitions[].startTimeout"},
    {"ContainerDefinitions[].StopTimeout", "containerDefinitions[].stopTimeout"},
    {"ContainerDefinitions[].SystemControls[].Namespace",
     "containerDefinitions[].systemControls[].namespace"},
    {"ContainerDefinitions[].SystemControls[].Value",
     "containerDefinitions[].systemControls[].value"},
    {"ContainerDefinitions[].Ulimits[].HardLimit", "containerDefinitions[].ulimits[].hardLimit"},
    {"ContainerDefinitions[].Ulimits[].Name", "containerDefinitions[].ulimits[].name"},
    {"ContainerDefinitions[].Ulimits[].SoftLimit", "containerDefinitions[].ulimits[].softLimit"},
    {"ContainerDefinitions[].User", "containerDefinitions[].user"},
    {"ContainerDefinitions[].VersionConsistency", "containerDefinitions[].versionConsistency"},
    {"ContainerDefinitions[].VolumesFrom[].ReadOnly",
     "containerDefinitions[].volumesFrom[].readOnly"},
    {"ContainerDefinitions[].VolumesFrom[].SourceContainer",
     "containerDefinitions[].volumesFrom[].sourceContainer"},
    {"ContainerDefinitions[].WorkingDirectory", "containerDefinitions[].workingDirectory"},
    {"Cpu", "cpu"},
    {"DefaultCapacityProviderStrategy[].Base", "defaultCapacityProviderStrategy[].base"},
    {"DefaultCapacityProviderStrategy[].CapacityProvider",
     "defaultCapacityProviderStrategy[].capacityProvider"},
    {"DefaultCapacityProviderStrategy[].Weight", "defaultCapacityProviderStrategy[].weight"},
    {"DeploymentConfiguration.Alarms.AlarmNames[]", "deploymentConfiguration.alarms.alarmNames[]"},
    {"DeploymentConfiguration.Alarms.Enable", "deploymentConfiguration.alarms.enable"},
    {"DeploymentConfiguration.Alarms.Rollback", "deploymentConfiguration.alarms.rollback"},
    {"DeploymentConfiguration.BakeTimeInMinutes", "deploymentConfiguration.bakeTimeInMinutes"},
    {"DeploymentConfiguration.CanaryConfiguration.CanaryBakeTimeInMinutes",
     "deploymentConfiguration.canaryConfiguration.canaryBakeTimeInMinutes"},
    {"DeploymentConfiguration.CanaryConfiguration.CanaryPercent",
     "deploymentConfiguration.canaryConfiguration.canaryPercent"},
    {"DeploymentConfiguration.DeploymentCircuitBreaker.Enable",
     "deploymentConfiguration.deploymentCircuitBreaker.enable"},
    {"DeploymentConfiguration.DeploymentCircuitBreaker.Rollback",
     "deploymentConfiguration.deploymentCircuitBreaker.rollback"},
    {"DeploymentConfiguration.LifecycleHooks[].HookDetails",
     "deploymentConfiguration.lifecycleHooks[].hookDetails"},
    {"DeploymentConfiguration.LifecycleHooks[].HookTargetArn",
     "deploymentConfiguration.lifecycleHooks[].hookTargetArn"},
    {"DeploymentConfiguration.LifecycleHooks[].LifecycleStages[]",
     "deploymentConfiguration.lifecycleHooks[].lifecycleStages[]"},
    {"DeploymentConfiguration.LifecycleHooks[].RoleArn",
     "deploymentConfiguration.lifecycleHooks[].roleArn"},
    {"DeploymentConfiguration.LinearConfiguration.StepBakeTimeInMinutes",
     "deploymentConfiguration.linearConfiguration.stepBakeTimeInMinutes"},
    {"DeploymentConfiguration.LinearConfiguration.StepPercent",
     "deploymentConfiguration.linearConfiguration.stepPercent"},
    {"DeploymentConfiguration.MaximumPercent", "deploymentConfiguration.maximumPercent"},
    {"DeploymentConfiguration.MinimumHealthyPercent",
     "deploymentConfiguration.minimumHealthyPercent"},
    {"DeploymentConfiguration.Strategy", "deploymentConfiguration.strategy"},
    {"DeploymentController.Type", "deploymentController.type"},
    {"DesiredCount", "desiredCount"},
    {"EnableECSManagedTags", "enableECSManagedTags"},
    {"EnableExecuteCommand", "enableExecuteCommand"},
    {"EnableFaultInjection", "enableFaultInjection"},
    {"EphemeralStorage.SizeInGiB", "ephemeralStorage.sizeInGiB"},
    {"ExecutionRoleArn", "executionRoleArn"},
    {"Family", "family"},
    {"HealthCheckGracePeriodSeconds", "healthCheckGracePeriodSeconds"},
    {"InferenceAccelerators[].DeviceName", "inferenceAccelerators[].deviceName"},
    {"InferenceAccelerators[].DeviceType", "inferenceAccelerators[].deviceType"},
    {"IpcMode", "ipcMode"},
    {"LaunchType", "launchType"},
    {"LoadBalancers[].AdvancedConfiguration.AlternateTargetGroupArn",
     "loadBalancers[].advancedConfiguration.alternateTargetGroupArn"},
    {"LoadBalancers[].AdvancedConfiguration.ProductionListenerRule",
     "loadBalancers[].advancedConfiguration.productionListenerRule"},
    {"LoadBalancers[].AdvancedConfiguration.RoleArn",
     "loadBalancers[].advancedConfiguration.roleArn"},
    {"LoadBalancers[].AdvancedConfiguration.TestListenerRule",
     "loadBalancers[].advancedConfiguration.testListenerRule"},
    {"LoadBalancers[].ContainerName", "loadBalancers[].containerName"},
    {"LoadBalancers[].ContainerPort", "loadBalancers[].containerPort"},
    {"LoadBalancers[].LoadBalancerName", "loadBalancers[].loadBalancerName"},
    {"LoadBalancers[].TargetGroupArn", "loadBalancers[].targetGroupArn"},
    {"Memory", "memory"},
    {"NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp",
     "networkConfiguration.awsvpcConfiguration.assignPublicIp"},
    {"NetworkConfiguration.AwsvpcConfiguration.SecurityGroups[]",
     "networkConfiguration.awsvpcConfiguration.securityGroups[]"},
    {"NetworkConfiguration.AwsvpcConfiguration.Subnets[]",
     "networkConfiguration.awsvpcConfiguration.subnets[]"},
    {"NetworkMode", "networkMode"},
    {"PidMode", "pidMode"},
    {"PlacementConstraints[].Expression", "placementConstraints[].expression"},
    {"PlacementConstraints[].Type", "placementConstraints[].type"},
    {"PlacementStrategies[].Field", "placementStrategy[].field"},
    {"PlacementStrategies[].Type", "placementStrategy[].type"},
    {"PlatformVersion", "platformVersion"},
    {"PropagateTags", "propagateTags"},
    {"ProxyConfiguration.ContainerName", "proxyConfiguration.containerName"},
    {"ProxyConfiguration.ProxyConfigurationProperties[].Name",
     "proxyConfiguration.properties[].name"},
    {"ProxyConfiguration.ProxyConfigurationProperties[].Value",
     "proxyConfiguration.properties[].value"},
    {"ProxyConfiguration.Type", "proxyConfiguration.type"},
    {"RequiresCompatibilities[]", "requiresCompatibilities[]"},
    {"Role", "role"},
    {"RuntimePlatform.CpuArchitecture", "runtimePlatform.cpuArchitecture"},
    {"RuntimePlatform.OperatingSystemFamily", "runtimePlatform.operatingSystemFamily"},
    {"SchedulingStrategy", "schedulingStrategy"},
    {"ServiceConnectConfiguration.AccessLogConfiguration.Format",
     "serviceConnectConfiguration.accessLogConfiguration.format"},
    {"ServiceConnectConfiguration.AccessLogConfiguration.IncludeQueryParameters",
     "serviceConnectConfiguration.accessLogConfiguration.includeQueryParameters"},
    {"ServiceConnectConfiguration.Enabled", "serviceConnectConfiguration.enabled"},
    {"ServiceConnectConfiguration.LogConfiguration.LogDriver",
     "serviceConnectConfiguration.logConfiguration.logDriver"},
    {"ServiceConnectConfiguration.LogConfiguration.Options{}",
     "serviceConnectConfiguration.logConfiguration.options{}"},
    {"ServiceConnectConfiguration.LogConfiguration.SecretOptions[].Name",
     "serviceConnectConfiguration.logConfiguration.secretOptions[].name"},
    {"ServiceConnectConfiguration.LogConfiguration.SecretOptions[].ValueFrom",
     "serviceConnectConfiguration.logConfiguration.secretOptions[].valueFrom"},
    {"ServiceConnectConfiguration.Namespace", "serviceConnectConfiguration.namespace"},
    {"ServiceConnectConfiguration.Services[].ClientAliases[].DnsName",
     "serviceConnectConfiguration.services[].clientAliases[].dnsName"},
    {"ServiceConnectConfiguration.Services[].ClientAliases[].Port",
     "serviceConnectConfiguration.services[].clientAliases[].port"},
    {"ServiceConnectConfiguration.Services[].ClientAliases[].TestTrafficRules.Header.Name",
     "serviceConnectConfiguration.services[].clientAliases[].testTrafficRules.header.name"},
    {"ServiceConnectConfiguration.Services[].ClientAliases[].TestTrafficRules.Header.Value.Exact",
     "serviceConnectConfiguration.services[].clientAliases[].testTrafficRules.header.value.exact"},
    {"ServiceConnectConfiguration.Services[].DiscoveryName",
     "serviceConnectConfiguration.services[].discoveryName"},
    {"ServiceConnectConfiguration.Services[].IngressPortOverride",
     "serviceConnectConfiguration.services[].ingressPortOverride"},
    {"ServiceConnectConfiguration.Services[].PortName",
     "serviceConnectConfiguration.services[].portName"},
    {"ServiceConnectConfiguration.Services[].Timeout.IdleTimeoutSeconds",
     "serviceConnectConfiguration.services[].timeout.idleTimeoutSeconds"},
    {"ServiceConnectConfiguration.Services[].Timeout.PerRequestTimeoutSeconds",
     "serviceConnectConfiguration.services[].timeout.perRequestTimeoutSeconds"},
    {"ServiceConnectConfiguration.Services[].Tls.IssuerCertificateAuthority.AwsPcaAuthorityArn",
     "serviceConnectConfiguration.services[].tls.issuerCertificateAuthority.awsPcaAuthorityArn"},
    {"ServiceConnectConfiguration.Services[].Tls.KmsKey",
     "serviceConnectConfiguration.services[].tls.kmsKey"},
    {"ServiceConnectConfiguration.Services[].Tls.RoleArn",
     "serviceConnectConfiguration.services[].tls.roleArn"},
    {"ServiceConnectDefaults.Namespace", "serviceConnectDefaults.namespace"},
    {"ServiceName", "serviceName"},
    {"ServiceRegistries[].ContainerName", "serviceRegistries[].containerName"},
    {"ServiceRegistries[].ContainerPort", "serviceRegistries[].containerPort"},
    {"ServiceRegistries[].Port", "serviceRegistries[].port"},
    {"ServiceRegistries[].RegistryArn", "serviceRegistries[].registryArn"},
    {"Tags[].Key", "tags[].key"},
    {"Tags[].Value", "tags[].value"},
    {"TaskDefinition", "taskDefinition"},
    {"TaskRoleArn", "taskRoleArn"},
    {"VolumeConfigurations[].ManagedEBSVolume.Encrypted",
     "volumeConfigurations[].managedEBSVolume.encrypted"},
    {"VolumeConfigurations[].ManagedEBSVolume.FilesystemType",
     "volumeConfigurations[].managedEBSVolume.filesystemType"},
    {"VolumeConfigurations[].ManagedEBSVolume.Iops",
     "volumeConfigurations[].managedEBSVolume.iops"},
    {"VolumeConfigurations[].ManagedEBSVolume.KmsKeyId",
     "volumeConfigurations[].managedEBSVolume.kmsKeyId"},
    {"VolumeConfigurations[].ManagedEBSVolume.RoleArn",
     "volumeConfigurations[].managedEBSVolume.roleArn"},
    {"VolumeConfigurations[].ManagedEBSVolume.SizeInGiB",
     "volumeConfigurations[].managedEBSVolume.sizeInGiB"},
    {"VolumeConfigurations[].ManagedEBSVolume.SnapshotId",
     "volumeConfigurations[].managedEBSVolume.snapshotId"},
    {"VolumeConfigurations[].ManagedEBSVolume.TagSpecifications[].PropagateTags",
     "volumeConfigurations[].managedEBSVolume.tagSpecifications[].propagateTags"},
    {"VolumeConfigurations[].ManagedEBSVolume.TagSpecifications[].ResourceType",
     "volumeConfigurations[].managedEBSVolume.tagSpecifications[].resourceType"},
    {"VolumeConfigurations[].ManagedEBSVolume.TagSpecifications[].Tags[].Key",
     "volumeConfigurations[].managedEBSVolume.tagSpecifications[].tags[].key"},
    {"VolumeConfigurations[].ManagedEBSVolume.TagSpecifications[].Tags[].Value",
     "volumeConfigurations[].managedEBSVolume.tagSpecifications[].tags[].value"},
    {"VolumeConfigurations[].ManagedEBSVolume.Throughput",
     "volumeConfigurations[].managedEBSVolume.throughput"},
    {"VolumeConfigurations[].ManagedEBSVolume.VolumeInitializationRate",
     "volumeConfigurations[].managedEBSVolume.volumeInitializationRate"},
    {"VolumeConfigurations[].ManagedEBSVolume.VolumeType",
     "volumeConfigurations[].managedEBSVolume.volumeType"},
    {"VolumeConfigurations[].Name", "volumeConfigurations[].name"},
    {"Volumes[].ConfiguredAtLaunch", "volumes[].configuredAtLaunch"},
    {"Volumes[].DockerVolumeConfiguration.Autoprovision",
     "volumes[].dockerVolumeConfiguration.autoprovision"},
    {"Volumes[].DockerVolumeConfiguration.Driver", "volumes[].dockerVolumeConfiguration.driver"},
    {"Volumes[].DockerVolumeConfiguration.DriverOpts{}",
     "volumes[].dockerVolumeConfiguration.driverOpts{}"},
    {"Volumes[].DockerVolumeConfiguration.Labels{}",
     "volumes[].dockerVolumeConfiguration.labels{}"},
    {"Volumes[].DockerVolumeConfiguration.Scope", "volumes[].dockerVolumeConfiguration.scope"},
    {"Volumes[].EFSVolumeConfiguration.AuthorizationConfig.AccessPointId",
     "volumes[].efsVolumeConfiguration.authorizationConfig.accessPointId"},
    {"Volumes[].EFSVolumeConfiguration.AuthorizationConfig.IAM",
     "volumes[].efsVolumeConfiguration.authorizationConfig.iam"},
    {"Volumes[].EFSVolumeConfiguration.FilesystemId",
     "volumes[].efsVolumeConfiguration.fileSystemId"},
    {"Volumes[].EFSVolumeConfiguration.RootDirectory",
     "volumes[].efsVolumeConfiguration.rootDirectory"},
    {"Volumes[].EFSVolumeConfiguration.TransitEncryption",
     "volumes[].efsVolumeConfiguration.transitEncryption"},
    {"Volumes[].EFSVolumeConfiguration.TransitEncryptionPort",
     "volumes[].efsVolumeConfiguration.transitEncryptionPort"},
    {"Volumes[].FSxWindowsFileServerVolumeConfiguration.AuthorizationConfig.CredentialsParameter",
     "volumes[].fsxWindowsFileServerVolumeConfiguration.authorizationConfig.credentialsParameter"},
    {"Volumes[].FSxWindowsFileServerVolumeConfiguration.AuthorizationConfig.Domain",
     "volumes[].fsxWindowsFileServerVolumeConfiguration.authorizationConfig.domain"},
    {"Volumes[].FSxWindowsFileServerVolumeConfiguration.FileSystemId",
     "volumes[].fsxWindowsFileServerVolumeConfiguration.fileSystemId"},
    {"Volumes[].FSxWindowsFileServerVolumeConfiguration.RootDirectory",
     "volumes[].fsxWindowsFileServerVolumeConfiguration.rootDirectory"},
    {"Volumes[].Host.SourcePath", "volumes[].host.sourcePath"},
    {"Volumes[].Name", "volumes[].name"},
    {"VpcLatticeConfigurations[].PortName", "vpcLatticeConfigurations[].portName"},
    {"VpcLatticeConfigurations[].RoleArn", "vpcLatticeConfigurations[].roleArn"},
    {"VpcLatticeConfigurations[].TargetGroupArn", "vpcLatticeConfigurations[].targetGroupArn"},
};

/* A one-path document: "A[].B{}" -> {"A": [{"B": {"Some-Key.v1": "x"}}]}. */
static json_t *build(const char *path)
{
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    char *seg = strndup(path, n);
    int arr = n > 2 && strcmp(seg + n - 2, "[]") == 0;
    int map = n > 2 && strcmp(seg + n - 2, "{}") == 0;
    if (arr || map)
        seg[n - 2] = '\0';
    json_t *inner = dot   ? build(dot + 1)
                    : map ? json_pack("{s:s}", "Some-Key.v1", "x")
                          : json_string("x");
    if (arr)
        inner = json_pack("[o]", inner);
    json_t *o = json_pack("{s:o}", seg, inner);
    free(seg);
    return o;
}

/* Follows such a path; the leaf, or NULL. Each object on the way must have
 * exactly the one member (nothing else came through untranslated). */
static json_t *follow(json_t *v, const char *path)
{
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    char *seg = strndup(path, n);
    int arr = n > 2 && strcmp(seg + n - 2, "[]") == 0;
    int map = n > 2 && strcmp(seg + n - 2, "{}") == 0;
    if (arr || map)
        seg[n - 2] = '\0';
    json_t *x = json_object_size(v) == 1 ? json_object_get(v, seg) : NULL;
    free(seg);
    if (arr)
        x = json_array_size(x) == 1 ? json_array_get(x, 0) : NULL;
    if (map)
        x = json_object_get(x, "Some-Key.v1");
    if (!x)
        return NULL;
    return dot ? follow(x, dot + 1) : x;
}

Test(ecs_keys, every_cloudformation_path)
{
    size_t n = sizeof(paths) / sizeof(paths[0]);
    cr_assert_gt(n, 200);
    for (size_t i = 0; i < n; i++) {
        json_t *cfn = build(paths[i].cfn);
        json_t *api = dr_compute_ecs_keys(cfn);
        json_t *leaf = follow(api, paths[i].api);
        if (!leaf) {
            char *d = json_dumps(api, JSON_SORT_KEYS);
            cr_expect(0, "%s should become %s, got %s", paths[i].cfn, paths[i].api, d);
            free(d);
        } else {
            cr_expect_str_eq(json_string_value(leaf), "x", "%s", paths[i].cfn);
        }
        json_decref(cfn);
        json_decref(api);
    }
}

/* ---- ELBv2 query parameters --------------------------------------------- */

static char *params_str(const dr_kvlist *l)
{
    size_t len = 1;
    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->items[i].name) + strlen(l->items[i].value) + 2;
    char *s = calloc(1, len);
    for (size_t i = 0; i < l->n; i++) {
        strcat(s, l->items[i].name);
        strcat(s, "=");
        strcat(s, l->items[i].value);
        strcat(s, "\n");
    }
    return s;
}

static void expect_flat(const char *prefix, const char *json, const char *want)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    cr_assert(v, "bad test JSON %s", json);
    dr_kvlist l = DR_KVLIST_INIT;
    dr_compute_query_flatten(&l, prefix, v);
    char *got = params_str(&l);
    cr_expect_str_eq(got, want);
    free(got);
    dr_kv_free(&l);
    json_decref(v);
}

Test(query_flatten, listener_actions)
{
    expect_flat("DefaultActions",
                "[{\"Type\": \"redirect\", \"RedirectConfig\": {\"Protocol\": \"HTTPS\", "
                "\"Port\": \"443\", \"StatusCode\": \"HTTP_301\"}}]",
                "DefaultActions.member.1.Type=redirect\n"
                "DefaultActions.member.1.RedirectConfig.Protocol=HTTPS\n"
                "DefaultActions.member.1.RedirectConfig.Port=443\n"
                "DefaultActions.member.1.RedirectConfig.StatusCode=HTTP_301\n");
    expect_flat("DefaultActions",
                "[{\"Type\": \"forward\", \"TargetGroupArn\": \"arn:tg\"}, {\"Type\": "
                "\"forward\", \"ForwardConfig\": {\"TargetGroups\": [{\"TargetGroupArn\": "
                "\"arn:a\", \"Weight\": 1}, {\"TargetGroupArn\": \"arn:b\", \"Weight\": 3}]}}]",
                "DefaultActions.member.1.Type=forward\n"
                "DefaultActions.member.1.TargetGroupArn=arn:tg\n"
                "DefaultActions.member.2.Type=forward\n"
                "DefaultActions.member.2.ForwardConfig.TargetGroups.member.1.TargetGroupArn=arn:a\n"
                "DefaultActions.member.2.ForwardConfig.TargetGroups.member.1.Weight=1\n"
                "DefaultActions.member.2.ForwardConfig.TargetGroups.member.2.TargetGroupArn=arn:b\n"
                "DefaultActions.member.2.ForwardConfig.TargetGroups.member.2.Weight=3\n");
    expect_flat("Certificates", "[{\"CertificateArn\": \"arn:aws:acm:c\"}]",
                "Certificates.member.1.CertificateArn=arn:aws:acm:c\n");
}

Test(query_flatten, scalars_tags_and_maps)
{
    expect_flat("Port", "443", "Port=443\n");
    expect_flat("HealthCheckEnabled", "true", "HealthCheckEnabled=true\n");
    expect_flat("Off", "false", "Off=false\n");
    expect_flat("Ratio", "0.1", "Ratio=0.1\n");
    expect_flat("Whole", "70.0", "Whole=70\n");
    expect_flat("Nothing", "null", "");
    expect_flat("Subnets", "[\"subnet-1\", \"subnet-2\"]",
                "Subnets.member.1=subnet-1\nSubnets.member.2=subnet-2\n");
    expect_flat("Matcher", "{\"HttpCode\": \"200\"}", "Matcher.HttpCode=200\n");
    expect_flat("Tags", "[{\"Key\": \"drctl:stack\", \"Value\": \"s p\"}]",
                "Tags.member.1.Key=drctl:stack\nTags.member.1.Value=s p\n");
    expect_flat("A", "{\"AuthenticationRequestExtraParams\": {\"display\": \"page\"}}",
                "A.AuthenticationRequestExtraParams.entry.1.key=display\n"
                "A.AuthenticationRequestExtraParams.entry.1.value=page\n");
    expect_flat("Empty", "[]", "");
}

/* ---- identifiers ---------------------------------------------------------- */

Test(ids, scalable_target)
{
    char *rid, *dim, *ns;
    cr_assert_eq(dr_compute_target_id_parse("service/drill/litellm|ecs:service:DesiredCount|ecs",
                                            &rid, &dim, &ns),
                 0);
    cr_expect_str_eq(rid, "service/drill/litellm");
    cr_expect_str_eq(dim, "ecs:service:DesiredCount");
    cr_expect_str_eq(ns, "ecs");
    free(rid);
    free(dim);
    free(ns);
    const char *bad[] = {"", "service/x", "a|b", "|b|c", "a||c", "a|b|", NULL};
    for (const char **b = bad; *b; b++) {
        cr_expect_eq(dr_compute_target_id_parse(*b, &rid, &dim, &ns), -1, "%s", *b);
        cr_expect_null(rid);
        cr_expect_null(dim);
        cr_expect_null(ns);
    }
    cr_expect_eq(dr_compute_target_id_parse(NULL, &rid, &dim, &ns), -1);
}

Test(ids, scaling_policy_arn)
{
    char *ns, *rid, *name;
    const char *arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:6d8972f3-efc8-"
                      "437c-92d1-6270f29a66e7:resource/ecs/service/drill/litellm:policyName/"
                      "drill-cpu-target";
    cr_assert_eq(dr_compute_policy_arn_parse(arn, &ns, &rid, &name), 0);
    cr_expect_str_eq(ns, "ecs");
    cr_expect_str_eq(rid, "service/drill/litellm");
    cr_expect_str_eq(name, "drill-cpu-target");
    free(ns);
    free(rid);
    free(name);
    const char *bad[] = {
        "arn:aws:autoscaling:us-east-1:1:scalingPolicy:u:resource/ecs",
        "arn:aws:autoscaling:us-east-1:1:scalingPolicy:u:policyName/x",
        "arn:aws:autoscaling:us-east-1:1:scalingPolicy:u:resource/ecs/a:policyName/",
        "service/drill/litellm|ecs:service:DesiredCount|ecs", NULL};
    for (const char **b = bad; *b; b++) {
        cr_expect_eq(dr_compute_policy_arn_parse(*b, &ns, &rid, &name), -1, "%s", *b);
        cr_expect_null(name);
    }
}

Test(ids, service_cluster)
{
    char *c =
        dr_compute_service_cluster("arn:aws:ecs:us-east-1:123456789012:service/drill/litellm");
    cr_expect_str_eq(c, "drill");
    free(c);
    /* The short (old) format names no cluster. */
    cr_expect_null(
        dr_compute_service_cluster("arn:aws:ecs:us-east-1:123456789012:service/litellm"));
    cr_expect_null(dr_compute_service_cluster("litellm"));
    cr_expect_null(dr_compute_service_cluster(NULL));
}

Test(ids, elb_full_names)
{
    char *n = dr_compute_elb_full_name(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/drill-alb/"
        "50dc6c495c0c9188");
    cr_expect_str_eq(n, "app/drill-alb/50dc6c495c0c9188");
    free(n);
    n = dr_compute_elb_full_name("arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                 "targetgroup/drill-tg/73e2d6bc24d8a067");
    cr_expect_str_eq(n, "targetgroup/drill-tg/73e2d6bc24d8a067");
    free(n);
    cr_expect_null(dr_compute_elb_full_name("arn:aws:ecs:us-east-1:1:cluster/x"));
    cr_expect_null(dr_compute_elb_full_name(NULL));
}
