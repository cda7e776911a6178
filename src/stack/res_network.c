/*
 * res_network.c - the network family's handler table: VPC, subnets,
 * internet and NAT gateways, EIPs, route tables, routes and associations,
 * VPC endpoints, flow logs and security groups (all EC2).
 *
 * The handlers are in res_network_vpc.c (VPC, Subnet, InternetGateway,
 * VPCGatewayAttachment, EIP, NatGateway), res_network_route.c (RouteTable,
 * Route, SubnetRouteTableAssociation, VPCEndpoint, FlowLog) and
 * res_network_sg.c (SecurityGroup, SecurityGroupEgress), with what they
 * share in res_network_common.c. The contract is handler.h's.
 *
 * update_in_place lists what CloudFormation changes without replacement
 * and drctl implements; any other change replaces the resource.
 * Destroy order comes from the model's references (dependents first): NAT
 * gateways go (and are waited for) before their EIPs, the gateway
 * attachment before the internet gateway, endpoints, subnets and security
 * groups before the VPC.
 */
#include <stddef.h>

#include "stack/res_network_int.h"

static const char *const vpc_upd[] = {"EnableDnsSupport", "EnableDnsHostnames", "Tags", NULL};
static const char *const subnet_upd[] = {"MapPublicIpOnLaunch", "Tags", NULL};
static const char *const tags_upd[] = {"Tags", NULL};
static const char *const attach_upd[] = {"InternetGatewayId", NULL};
static const char *const route_upd[] = {"GatewayId",
                                        "NatGatewayId",
                                        "VpcEndpointId",
                                        "TransitGatewayId",
                                        "NetworkInterfaceId",
                                        "VpcPeeringConnectionId",
                                        "EgressOnlyInternetGatewayId",
                                        "InstanceId",
                                        "LocalGatewayId",
                                        "CarrierGatewayId",
                                        "CoreNetworkArn",
                                        NULL};
static const char *const vpce_upd[] = {"PolicyDocument",
                                       "PrivateDnsEnabled",
                                       "RouteTableIds",
                                       "SubnetIds",
                                       "SecurityGroupIds",
                                       "Tags",
                                       NULL};
static const char *const sg_upd[] = {"SecurityGroupIngress", "SecurityGroupEgress", "Tags", NULL};
static const char *const sg_names[] = {"GroupName", NULL};
static const char *const sgegress_upd[] = {"Description", NULL};

#define NET_HANDLER(t, n)                                                                          \
    .type = (t), .create = n##_create, .find = n##_find, .read = n##_read, .remove = n##_remove

const dr_handler dr_handlers_network[] = {
    {NET_HANDLER("AWS::EC2::VPC", net_vpc), .update = net_vpc_update,
     .wait_ready = net_vpc_wait_ready, .update_in_place = vpc_upd},
    {NET_HANDLER("AWS::EC2::Subnet", net_subnet), .update = net_subnet_update,
     .wait_ready = net_subnet_wait_ready, .update_in_place = subnet_upd},
    {NET_HANDLER("AWS::EC2::InternetGateway", net_igw), .update = net_igw_update,
     .update_in_place = tags_upd},
    {NET_HANDLER("AWS::EC2::VPCGatewayAttachment", net_attach), .update = net_attach_update,
     .update_in_place = attach_upd},
    {NET_HANDLER("AWS::EC2::EIP", net_eip), .update = net_eip_update, .update_in_place = tags_upd},
    {NET_HANDLER("AWS::EC2::NatGateway", net_nat), .update = net_nat_update,
     .wait_ready = net_nat_wait_ready, .wait_deleted = net_nat_wait_deleted,
     .update_in_place = tags_upd},
    {NET_HANDLER("AWS::EC2::RouteTable", net_rtb), .update = net_rtb_update,
     .update_in_place = tags_upd},
    {NET_HANDLER("AWS::EC2::Route", net_route), .update = net_route_update,
     .update_in_place = route_upd},
    {NET_HANDLER("AWS::EC2::SubnetRouteTableAssociation", net_assoc)},
    {NET_HANDLER("AWS::EC2::VPCEndpoint", net_vpce), .update = net_vpce_update,
     .wait_ready = net_vpce_wait_ready, .wait_deleted = net_vpce_wait_deleted,
     .update_in_place = vpce_upd},
    {NET_HANDLER("AWS::EC2::FlowLog", net_flowlog), .update = net_flowlog_update,
     .update_in_place = tags_upd},
    {NET_HANDLER("AWS::EC2::SecurityGroup", net_sg), .update = net_sg_update,
     .update_in_place = sg_upd, .name_properties = sg_names},
    {NET_HANDLER("AWS::EC2::SecurityGroupEgress", net_sgegress), .update = net_sgegress_update,
     .update_in_place = sgegress_upd},
    {.type = NULL},
};
