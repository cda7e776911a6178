/*
 * test_res_network.c - the network family's pure pieces: composite
 * physical ids, route destinations, security group rules (CloudFormation
 * form <-> EC2 form, normalisation, the flattened IpPermissions parameters
 * as botocore's EC2 serializer writes them), list ordering, and the shape
 * of the handler table.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "stack/handler.h"
#include "stack/res_network_int.h"
#include "util/kv.h"

Test(res_network, split_composite_ids)
{
    char *a = NULL, *b = NULL;
    cr_assert_eq(net_split_id("IGW|vpc-0123", &a, &b), 0);
    cr_expect_str_eq(a, "IGW");
    cr_expect_str_eq(b, "vpc-0123");
    free(a);
    free(b);
    cr_assert_eq(net_split_id("rtb-1|2001:db8::/64", &a, &b), 0);
    cr_expect_str_eq(a, "rtb-1");
    cr_expect_str_eq(b, "2001:db8::/64");
    free(a);
    free(b);
    cr_expect_eq(net_split_id("vpc-0123", &a, &b), -1);
    cr_expect_null(a);
    cr_expect_eq(net_split_id("|x", &a, &b), -1);
    cr_expect_eq(net_split_id("x|", &a, &b), -1);
    cr_expect_eq(net_split_id(NULL, &a, &b), -1);
}

Test(res_network, route_destination_parameter)
{
    cr_expect_str_eq(net_route_dest_param("0.0.0.0/0"), "DestinationCidrBlock");
    cr_expect_str_eq(net_route_dest_param("::/0"), "DestinationIpv6CidrBlock");
    cr_expect_str_eq(net_route_dest_param("pl-63a5400a"), "DestinationPrefixListId");
}

Test(res_network, protocol_names)
{
    struct {
        const char *in, *out;
    } cases[] = {{"6", "tcp"}, {"TCP", "tcp"},   {"17", "udp"}, {"1", "icmp"}, {"all", "-1"},
                 {"-1", "-1"}, {"ICMPv6", "58"}, {"58", "58"},  {"50", "50"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char p[16];
        snprintf(p, sizeof(p), "%s", cases[i].in);
        net_proto_norm(p);
        cr_expect_str_eq(p, cases[i].out, "%s", cases[i].in);
    }
}

static net_rule rule(const char *json, int egress)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    cr_assert(o, "%s", je.text);
    net_rule r;
    dr_err err;
    dr_err_clear(&err);
    cr_assert_eq(net_rule_from_cfn(o, egress, &r, &err), 0, "%s: %s", json, err.msg);
    json_decref(o);
    return r;
}

static int rule_fails(const char *json, int egress)
{
    json_t *o = json_loads(json, 0, NULL);
    net_rule r;
    dr_err err;
    dr_err_clear(&err);
    int rc = net_rule_from_cfn(o, egress, &r, &err);
    json_decref(o);
    return rc != 0 && err.msg[0];
}

Test(res_network, rules_from_cloudformation)
{
    net_rule r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":443,\"ToPort\":443,"
                      "\"CidrIp\":\"0.0.0.0/0\",\"Description\":\"HTTPS\"}",
                      0);
    cr_expect_str_eq(r.proto, "tcp");
    cr_expect_eq(r.from, 443);
    cr_expect_eq(r.to, 443);
    cr_expect_eq(r.kind, NET_PEER_CIDR4);
    cr_expect_str_eq(r.peer, "0.0.0.0/0");
    cr_expect(r.has_desc);
    cr_expect_str_eq(r.desc, "HTTPS");

    /* Ports as strings, protocol as a number: the same permission. */
    net_rule s = rule("{\"IpProtocol\":\"6\",\"FromPort\":\"443\",\"ToPort\":\"443\","
                      "\"CidrIp\":\"0.0.0.0/0\"}",
                      0);
    cr_expect(net_rule_same(&r, &s));
    cr_expect(!s.has_desc);

    /* All traffic: no ports, whatever was written. */
    r = rule("{\"IpProtocol\":\"-1\",\"FromPort\":0,\"ToPort\":65535,\"CidrIp\":\"0.0.0.0/0\"}", 1);
    cr_expect_eq(r.from, -1);
    cr_expect_eq(r.to, -1);
    s = rule("{\"IpProtocol\":\"all\",\"CidrIp\":\"0.0.0.0/0\"}", 1);
    cr_expect(net_rule_same(&r, &s));

    /* ICMP keeps type and code (the no-egress idiom). */
    r = rule("{\"IpProtocol\":\"icmp\",\"FromPort\":252,\"ToPort\":86,"
             "\"CidrIp\":\"255.255.255.255/32\"}",
             1);
    cr_expect_eq(r.from, 252);
    cr_expect_eq(r.to, 86);

    /* Group peers: Source* for ingress, Destination* for egress. */
    r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":5432,\"ToPort\":5432,"
             "\"SourceSecurityGroupId\":\"sg-1\",\"SourceSecurityGroupOwnerId\":\"123\"}",
             0);
    cr_expect_eq(r.kind, NET_PEER_GROUP);
    cr_expect_str_eq(r.peer, "sg-1");
    cr_expect_str_eq(r.owner, "123");
    s = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":5432,\"ToPort\":5432,"
             "\"SourceSecurityGroupId\":\"sg-1\"}",
             0);
    cr_expect(net_rule_same(&r, &s), "an owner on one side only does not make another rule");
    r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":4000,\"ToPort\":4000,"
             "\"DestinationSecurityGroupId\":\"sg-2\"}",
             1);
    cr_expect_eq(r.kind, NET_PEER_GROUP);
    cr_expect_str_eq(r.peer, "sg-2");
    r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":443,\"ToPort\":443,"
             "\"DestinationPrefixListId\":\"pl-1\"}",
             1);
    cr_expect_eq(r.kind, NET_PEER_PREFIX);
    r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":443,\"ToPort\":443,\"CidrIpv6\":\"::/0\"}", 0);
    cr_expect_eq(r.kind, NET_PEER_CIDR6);

    /* Different ports or peers are different rules. */
    r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":80,\"ToPort\":80,\"CidrIp\":\"0.0.0.0/0\"}", 0);
    s = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":443,\"ToPort\":443,\"CidrIp\":\"0.0.0.0/0\"}",
             0);
    cr_expect(!net_rule_same(&r, &s));
    s = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":80,\"ToPort\":80,\"CidrIp\":\"10.0.0.0/8\"}", 0);
    cr_expect(!net_rule_same(&r, &s));
}

Test(res_network, rules_refused)
{
    cr_expect(rule_fails("{\"FromPort\":1,\"ToPort\":1,\"CidrIp\":\"0.0.0.0/0\"}", 0),
              "no protocol");
    cr_expect(rule_fails("{\"IpProtocol\":\"tcp\",\"FromPort\":1,\"ToPort\":1}", 0), "no peer");
    cr_expect(rule_fails("{\"IpProtocol\":\"tcp\",\"FromPort\":1,\"ToPort\":1,"
                         "\"CidrIp\":\"0.0.0.0/0\",\"SourceSecurityGroupId\":\"sg-1\"}",
                         0),
              "two peers");
    cr_expect(rule_fails("{\"IpProtocol\":\"tcp\",\"FromPort\":1,\"ToPort\":1,"
                         "\"SourceSecurityGroupId\":\"(known after apply)\"}",
                         0),
              "a peer not known yet");
    cr_expect(rule_fails("{\"IpProtocol\":\"tcp\",\"FromPort\":1,\"ToPort\":1,"
                         "\"SourceSecurityGroupName\":\"web\"}",
                         0),
              "group names are EC2-Classic");
    /* An ingress key in an egress rule names no peer. */
    cr_expect(rule_fails("{\"IpProtocol\":\"tcp\",\"FromPort\":1,\"ToPort\":1,"
                         "\"SourceSecurityGroupId\":\"sg-1\"}",
                         1));
}

Test(res_network, rule_round_trip_to_cloudformation)
{
    const char *in[] = {
        "{\"IpProtocol\":\"tcp\",\"FromPort\":4000,\"ToPort\":4000,"
        "\"SourceSecurityGroupId\":\"sg-1\",\"Description\":\"from the ALB\"}",
        "{\"IpProtocol\":\"-1\",\"CidrIp\":\"0.0.0.0/0\"}",
        "{\"IpProtocol\":\"icmp\",\"FromPort\":252,\"ToPort\":86,\"CidrIp\":\"255.255.255.255/32\","
        "\"Description\":\"No egress\"}",
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        json_t *want = json_loads(in[i], 0, NULL);
        net_rule r = rule(in[i], 0);
        json_t *got = net_rule_to_cfn(&r, 0);
        cr_expect(json_equal(got, want), "%s does not come back as it was", in[i]);
        json_decref(got);
        json_decref(want);
    }
    net_rule r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":4000,\"ToPort\":4000,"
                      "\"DestinationSecurityGroupId\":\"sg-2\"}",
                      1);
    json_t *got = net_rule_to_cfn(&r, 1);
    cr_expect_str_eq(json_string_value(json_object_get(got, "DestinationSecurityGroupId")), "sg-2");
    json_decref(got);
}

/* The parameters as botocore serializes AuthorizeSecurityGroupIngress
 * (ec2 protocol: UserIdGroupPairs goes out as "Groups"). */
Test(res_network, rule_parameters_as_botocore)
{
    net_rule r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":1,\"ToPort\":2,"
                      "\"SourceSecurityGroupId\":\"sg-2\",\"Description\":\"x\"}",
                      0);
    dr_kvlist p = DR_KVLIST_INIT;
    net_rule_params(&p, 1, &r, 1);
    cr_expect_str_eq(dr_kv_get(&p, "IpPermissions.1.IpProtocol"), "tcp");
    cr_expect_str_eq(dr_kv_get(&p, "IpPermissions.1.FromPort"), "1");
    cr_expect_str_eq(dr_kv_get(&p, "IpPermissions.1.ToPort"), "2");
    cr_expect_str_eq(dr_kv_get(&p, "IpPermissions.1.Groups.1.GroupId"), "sg-2");
    cr_expect_str_eq(dr_kv_get(&p, "IpPermissions.1.Groups.1.Description"), "x");
    dr_kv_free(&p);

    r = rule("{\"IpProtocol\":\"-1\",\"CidrIp\":\"0.0.0.0/0\"}", 1);
    net_rule_params(&p, 2, &r, 0);
    cr_expect_str_eq(dr_kv_get(&p, "IpPermissions.2.IpProtocol"), "-1");
    cr_expect_null(dr_kv_get(&p, "IpPermissions.2.FromPort"), "no ports for all traffic");
    cr_expect_str_eq(dr_kv_get(&p, "IpPermissions.2.IpRanges.1.CidrIp"), "0.0.0.0/0");
    cr_expect_null(dr_kv_get(&p, "IpPermissions.2.IpRanges.1.Description"));
    dr_kv_free(&p);

    r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":443,\"ToPort\":443,\"CidrIpv6\":\"::/0\"}", 0);
    net_rule_params(&p, 1, &r, 0);
    cr_expect_str_eq(dr_kv_get(&p, "IpPermissions.1.Ipv6Ranges.1.CidrIpv6"), "::/0");
    dr_kv_free(&p);
    r = rule("{\"IpProtocol\":\"tcp\",\"FromPort\":443,\"ToPort\":443,"
             "\"DestinationPrefixListId\":\"pl-1\"}",
             1);
    net_rule_params(&p, 1, &r, 0);
    cr_expect_str_eq(dr_kv_get(&p, "IpPermissions.1.PrefixListIds.1.PrefixListId"), "pl-1");
    dr_kv_free(&p);
}

Test(res_network, lists_keep_the_model_order)
{
    json_t *want = json_pack("[s, s, s]", "rtb-1", "rtb-2", "rtb-3");
    json_t *got = net_order_like(json_pack("[s, s, s]", "rtb-3", "rtb-1", "rtb-2"), want);
    cr_expect(json_equal(got, want));
    json_decref(got);
    /* A real difference stays visible. */
    json_t *live = json_pack("[s, s]", "rtb-3", "rtb-1");
    got = net_order_like(json_incref(live), want);
    cr_expect(json_equal(got, live));
    json_decref(got);
    json_decref(live);
    got = net_order_like(json_pack("[s, s, s]", "rtb-1", "rtb-2", "rtb-9"), want);
    cr_expect_str_eq(json_string_value(json_array_get(got, 2)), "rtb-9");
    json_decref(got);
    json_decref(want);
}

Test(res_network, property_access)
{
    json_t *p = json_pack("{s:s, s:i, s:s, s:b, s:s, s:s}", "A", "x", "N", 600, "S", "443", "B", 1,
                          "BS", "false", "U", DR_KNOWN_AFTER_APPLY);
    char buf[32];
    cr_expect_str_eq(net_str(p, "A"), "x");
    cr_expect_null(net_str(p, "U"), "unknown values count as absent");
    cr_expect_null(net_str(p, "missing"));
    cr_expect_str_eq(net_scalar(p, "N", buf, sizeof(buf)), "600");
    cr_expect_str_eq(net_scalar(p, "S", buf, sizeof(buf)), "443");
    long n = 0;
    cr_expect(net_long(p, "S", &n) && n == 443);
    cr_expect(!net_long(p, "A", &n));
    cr_expect(net_bool(p, "B", 0) == 1);
    cr_expect(net_bool(p, "BS", 1) == 0);
    cr_expect(net_bool(p, "missing", 1) == 1);
    cr_expect(net_has_bool(p, "BS") && !net_has_bool(p, "A"));
    json_decref(p);
}

Test(res_network, handler_table)
{
    static const char *const types[] = {"AWS::EC2::VPC",
                                        "AWS::EC2::Subnet",
                                        "AWS::EC2::InternetGateway",
                                        "AWS::EC2::VPCGatewayAttachment",
                                        "AWS::EC2::EIP",
                                        "AWS::EC2::NatGateway",
                                        "AWS::EC2::RouteTable",
                                        "AWS::EC2::Route",
                                        "AWS::EC2::SubnetRouteTableAssociation",
                                        "AWS::EC2::VPCEndpoint",
                                        "AWS::EC2::FlowLog",
                                        "AWS::EC2::SecurityGroup",
                                        "AWS::EC2::SecurityGroupEgress"};
    extern const dr_handler dr_handlers_network[];
    size_t n = 0;
    for (const dr_handler *h = dr_handlers_network; h->type; h++)
        n++;
    cr_expect_eq(n, sizeof(types) / sizeof(types[0]));
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const dr_handler *h = dr_handler_find_in(dr_handlers_network, types[i]);
        cr_assert(h, "%s has no handler", types[i]);
        cr_expect(h->create && h->find && h->read && h->remove, "%s", types[i]);
        /* update exactly when something is updatable in place */
        cr_expect(!h->update == !h->update_in_place, "%s", types[i]);
    }
    /* NAT gateways and endpoints are deleted asynchronously: destroy waits. */
    cr_expect(dr_handler_find_in(dr_handlers_network, "AWS::EC2::NatGateway")->wait_deleted);
    cr_expect(dr_handler_find_in(dr_handlers_network, "AWS::EC2::NatGateway")->wait_ready);
    cr_expect(dr_handler_find_in(dr_handlers_network, "AWS::EC2::VPCEndpoint")->wait_deleted);
    cr_expect(dr_handler_find_in(dr_handlers_network, "AWS::EC2::SecurityGroup")->name_properties);
}
