/*
 * model_network.c - the network family: VPC, subnets, internet and NAT
 * gateways, route tables, VPC endpoints and flow logs.
 *
 * Why it looks like this:
 * - Three tiers per AZ (dr_subnets_carve): public subnets hold only the
 *   load balancer and the NAT gateways; the tasks run in private subnets
 *   and reach the internet through NAT; database subnets have no route out
 *   at all. Subnet CIDRs and AZ names are literal values in the model (no
 *   Fn::Cidr or Fn::GetAZs), so that the model is deterministic and the
 *   engine resolves nothing to know them.
 * - A NAT gateway per AZ (an AZ outage then leaves the others their way
 *   out) or one for the whole VPC (network.nat: single, for dev); each
 *   private route table points at its own AZ's gateway, or at the single
 *   one.
 * - VPC endpoints keep AWS traffic off NAT: an S3 gateway endpoint on the
 *   private route tables, and interface endpoints (private DNS) for the
 *   calls a Fargate task makes on start: ECR api/dkr to pull, CloudWatch
 *   Logs for awslogs, Secrets Manager and KMS for the injected secrets.
 * - Flow logs (network.flow_logs) go to a log group with retention, written
 *   by a role that may write there only.
 */
#include <stdio.h>
#include <string.h>

#include "stack/model_int.h"
#include "util/mem.h"

static void subnet(dr_mb *b, const char *tier, int i, const char *cidr)
{
    char id[64];
    snprintf(id, sizeof(id), "%sSubnet%d", tier, i + 1);
    dr_mb_add(b, id, "AWS::EC2::Subnet",
              json_pack("{s:o, s:s, s:s, s:b}", "VpcId", dr_ref("Vpc"), "CidrBlock", cidr,
                        "AvailabilityZone", b->net.az[i], "MapPublicIpOnLaunch", 0));
    char assoc[96];
    char table[64];
    snprintf(assoc, sizeof(assoc), "%sRouteTableAssociation", id);
    if (strcmp(tier, "Private") == 0) /* one table per AZ: each has its own NAT */
        snprintf(table, sizeof(table), "PrivateRouteTable%d", i + 1);
    else
        snprintf(table, sizeof(table), "%sRouteTable", tier);
    dr_mb_add(b, assoc, "AWS::EC2::SubnetRouteTableAssociation",
              json_pack("{s:o, s:o}", "RouteTableId", dr_ref(table), "SubnetId", dr_ref(id)));
}

static void route_table(dr_mb *b, const char *id)
{
    dr_mb_add(b, id, "AWS::EC2::RouteTable", json_pack("{s:o}", "VpcId", dr_ref("Vpc")));
}

static void interface_endpoint(dr_mb *b, const char *id, const char *service)
{
    const int n = b->net.az_count;
    char *name = dr_xasprintf("com.amazonaws.%s.%s", b->region, service);
    dr_mb_add(b, id, "AWS::EC2::VPCEndpoint",
              json_pack("{s:o, s:o, s:s, s:b, s:o, s:[o]}", "VpcId", dr_ref("Vpc"), "ServiceName",
                        dr_str_take(name), "VpcEndpointType", "Interface", "PrivateDnsEnabled", 1,
                        "SubnetIds", dr_refs_numbered("PrivateSubnet", n, NULL), "SecurityGroupIds",
                        dr_getatt("EndpointSecurityGroup", "GroupId")));
}

static void flow_logs(dr_mb *b)
{
    json_t *statements =
        json_pack("[{s:s, s:s, s:[s, s, s], s:o}]", "Sid", "WriteFlowLogGroupOnly", "Effect",
                  "Allow", "Action", "logs:CreateLogStream", "logs:PutLogEvents",
                  "logs:DescribeLogStreams", "Resource", dr_getatt("FlowLogGroup", "Arn"));
    dr_mb_add(b, "FlowLogRole", "AWS::IAM::Role",
              dr_service_role(b, "flow-logs", "VPC flow logs: writes the flow log group only",
                              "vpc-flow-logs.amazonaws.com", "flow-log-group", statements));
    dr_mb_add(b, "FlowLog", "AWS::EC2::FlowLog",
              json_pack("{s:o, s:s, s:s, s:s, s:o, s:o, s:i}", "ResourceId", dr_ref("Vpc"),
                        "ResourceType", "VPC", "TrafficType", "ALL", "LogDestinationType",
                        "cloud-watch-logs", "LogGroupName", dr_ref("FlowLogGroup"),
                        "DeliverLogsPermissionArn", dr_getatt("FlowLogRole", "Arn"),
                        "MaxAggregationInterval", 600));
}

void dr_build_network(dr_mb *b)
{
    const dr_region_profile *p = b->p;
    const int n = b->net.az_count;
    dr_mb_add(b, "Vpc", "AWS::EC2::VPC",
              json_pack("{s:s, s:b, s:b, s:s}", "CidrBlock", p->network.cidr, "EnableDnsSupport", 1,
                        "EnableDnsHostnames", 1, "InstanceTenancy", "default"));
    dr_mb_add(b, "InternetGateway", "AWS::EC2::InternetGateway", NULL);
    dr_mb_add(b, "InternetGatewayAttachment", "AWS::EC2::VPCGatewayAttachment",
              json_pack("{s:o, s:o}", "VpcId", dr_ref("Vpc"), "InternetGatewayId",
                        dr_ref("InternetGateway")));

    route_table(b, "PublicRouteTable");
    dr_resource *r = dr_mb_add(b, "PublicDefaultRoute", "AWS::EC2::Route",
                               json_pack("{s:o, s:s, s:o}", "RouteTableId",
                                         dr_ref("PublicRouteTable"), "DestinationCidrBlock",
                                         "0.0.0.0/0", "GatewayId", dr_ref("InternetGateway")));
    /* A route to a gateway that is not attached yet fails. */
    dr_mb_depends(r, "InternetGatewayAttachment");
    for (int i = 0; i < n; i++)
        subnet(b, "Public", i, b->net.public_cidr[i]);

    int nat = p->network.nat == DR_NAT_SINGLE ? 1 : n;
    for (int i = 1; i <= nat; i++) {
        char eip[32], gw[32], sn[32];
        snprintf(eip, sizeof(eip), "NatEip%d", i);
        snprintf(gw, sizeof(gw), "NatGateway%d", i);
        snprintf(sn, sizeof(sn), "PublicSubnet%d", i);
        r = dr_mb_add(b, eip, "AWS::EC2::EIP", json_pack("{s:s}", "Domain", "vpc"));
        dr_mb_depends(r, "InternetGatewayAttachment");
        dr_mb_add(b, gw, "AWS::EC2::NatGateway",
                  json_pack("{s:o, s:o, s:s}", "AllocationId", dr_getatt(eip, "AllocationId"),
                            "SubnetId", dr_ref(sn), "ConnectivityType", "public"));
    }
    for (int i = 1; i <= n; i++) {
        char rt[32], route[32], gw[32];
        snprintf(rt, sizeof(rt), "PrivateRouteTable%d", i);
        snprintf(route, sizeof(route), "PrivateDefaultRoute%d", i);
        snprintf(gw, sizeof(gw), "NatGateway%d", nat == 1 ? 1 : i);
        route_table(b, rt);
        dr_mb_add(b, route, "AWS::EC2::Route",
                  json_pack("{s:o, s:s, s:o}", "RouteTableId", dr_ref(rt), "DestinationCidrBlock",
                            "0.0.0.0/0", "NatGatewayId", dr_ref(gw)));
    }
    for (int i = 0; i < n; i++)
        subnet(b, "Private", i, b->net.private_cidr[i]);
    /* The database tier has a table with the local route only. */
    route_table(b, "DatabaseRouteTable");
    for (int i = 0; i < n; i++)
        subnet(b, "Database", i, b->net.database_cidr[i]);

    char *s3 = dr_xasprintf("com.amazonaws.%s.s3", b->region);
    dr_mb_add(b, "S3GatewayEndpoint", "AWS::EC2::VPCEndpoint",
              json_pack("{s:o, s:o, s:s, s:o}", "VpcId", dr_ref("Vpc"), "ServiceName",
                        dr_str_take(s3), "VpcEndpointType", "Gateway", "RouteTableIds",
                        dr_refs_numbered("PrivateRouteTable", n, NULL)));
    interface_endpoint(b, "EcrApiEndpoint", "ecr.api");
    interface_endpoint(b, "EcrDkrEndpoint", "ecr.dkr");
    interface_endpoint(b, "LogsEndpoint", "logs");
    interface_endpoint(b, "SecretsManagerEndpoint", "secretsmanager");
    interface_endpoint(b, "KmsEndpoint", "kms");
    if (p->network.flow_logs)
        flow_logs(b);

    dr_mb_output(b, "VpcId", dr_ref("Vpc"), "The stack's VPC");
    dr_mb_output(b, "PrivateSubnetIds", dr_join(",", dr_refs_numbered("PrivateSubnet", n, NULL)),
                 "Private subnets (tasks), comma-separated, in AZ order");
    dr_mb_output(b, "DatabaseSubnetIds", dr_join(",", dr_refs_numbered("DatabaseSubnet", n, NULL)),
                 "Database subnets, comma-separated, in AZ order");
}
