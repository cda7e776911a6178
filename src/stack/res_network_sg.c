/*
 * res_network_sg.c - AWS::EC2::SecurityGroup (with its inline
 * SecurityGroupIngress / SecurityGroupEgress rules) and
 * AWS::EC2::SecurityGroupEgress.
 *
 * Physical ids (CloudFormation's Ref): the group id; the rule id
 * (sgr-...) of a standalone egress rule.
 *
 * Rules are compared as permissions (protocol, ports, peer), normalised so
 * that CloudFormation's spelling and EC2's answer agree ("6" is "tcp", a
 * protocol without ports has -1/-1); descriptions are compared apart and
 * changed in place (UpdateSecurityGroupRuleDescriptions*), never by
 * revoking and authorising again, which would cut traffic for a moment.
 *
 * Inline rules are changed by the difference between the old and the new
 * model, not by making the group equal to the model: standalone
 * AWS::EC2::SecurityGroupEgress rules (the ALB's rule to the tasks) live in
 * the same group and must survive an update of it. For the same reason
 * what read/find report as the live rule lists are the model's rules that
 * exist (with their live descriptions): a missing rule shows as a change
 * and is added, a rule drctl does not know about is left alone.
 *
 * Egress: a new VPC group comes with an allow-all egress rule. When the
 * model gives egress rules, that default is revoked (as CloudFormation
 * does), so the model's rules are all there is; a model without egress
 * rules keeps it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/res_network_int.h"
#include "util/mem.h"

/* ---- rules (pure) -------------------------------------------------------- */

void net_proto_norm(char *p)
{
    for (char *q = p; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    static const char *const m[][2] = {
        {"6", "tcp"}, {"17", "udp"}, {"1", "icmp"}, {"all", "-1"}, {"icmpv6", "58"}};
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (strcmp(p, m[i][0]) == 0) {
            strcpy(p, m[i][1]);
            return;
        }
}

/* Protocols whose rules carry ports (ICMP: type and code). */
static int proto_has_ports(const char *p)
{
    return strcmp(p, "tcp") == 0 || strcmp(p, "udp") == 0 || strcmp(p, "icmp") == 0 ||
           strcmp(p, "58") == 0;
}

static void rule_ports(net_rule *r, int have_from, long from, int have_to, long to)
{
    if (!proto_has_ports(r->proto)) {
        r->from = r->to = -1;
        return;
    }
    r->from = have_from ? from : -1;
    r->to = have_to ? to : -1;
}

int net_rule_from_cfn(json_t *o, int egress, net_rule *r, dr_err *err)
{
    memset(r, 0, sizeof(*r));
    char buf[32];
    const char *proto = net_scalar(o, "IpProtocol", buf, sizeof(buf));
    if (!proto)
        return dr_err_set(err, DR_E_CONFIG, "a security group rule has no IpProtocol");
    snprintf(r->proto, sizeof(r->proto), "%s", proto);
    net_proto_norm(r->proto);
    long from = -1, to = -1;
    int hf = net_long(o, "FromPort", &from), ht = net_long(o, "ToPort", &to);
    rule_ports(r, hf, from, ht, to);

    const char *group_key = egress ? "DestinationSecurityGroupId" : "SourceSecurityGroupId";
    const char *prefix_key = egress ? "DestinationPrefixListId" : "SourcePrefixListId";
    static const struct {
        const char *key;
        net_peer_kind kind;
    } peers[] = {{"CidrIp", NET_PEER_CIDR4},
                 {"CidrIpv6", NET_PEER_CIDR6},
                 {NULL, NET_PEER_GROUP},
                 {NULL, NET_PEER_PREFIX}};
    int npeers = 0;
    for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
        const char *key = peers[i].key                      ? peers[i].key
                          : peers[i].kind == NET_PEER_GROUP ? group_key
                                                            : prefix_key;
        json_t *v = json_object_get(o, key);
        if (!v)
            continue;
        const char *s = json_string_value(v);
        if (!net_known(s))
            return dr_err_set(err, DR_E_CONFIG, "security group rule: %s is not known yet", key);
        r->kind = peers[i].kind;
        snprintf(r->peer, sizeof(r->peer), "%s", s);
        npeers++;
    }
    if (!egress && json_object_get(o, "SourceSecurityGroupName") && npeers == 0)
        return dr_err_set(err, DR_E_CONFIG,
                          "security group rule: SourceSecurityGroupName is not supported in a "
                          "VPC; use SourceSecurityGroupId");
    if (npeers != 1)
        return dr_err_set(err, DR_E_CONFIG,
                          "a security group rule needs exactly one of CidrIp, CidrIpv6, %s, %s",
                          group_key, prefix_key);
    const char *owner = net_str(o, "SourceSecurityGroupOwnerId");
    if (!egress && owner && r->kind == NET_PEER_GROUP)
        snprintf(r->owner, sizeof(r->owner), "%s", owner);
    const char *d = json_string_value(json_object_get(o, "Description"));
    if (d) {
        snprintf(r->desc, sizeof(r->desc), "%s", d);
        r->has_desc = 1;
    }
    return 0;
}

json_t *net_rule_to_cfn(const net_rule *r, int egress)
{
    json_t *o = json_pack("{s:s}", "IpProtocol", r->proto);
    if (proto_has_ports(r->proto)) {
        json_object_set_new(o, "FromPort", json_integer(r->from));
        json_object_set_new(o, "ToPort", json_integer(r->to));
    }
    const char *key = "CidrIp";
    switch (r->kind) {
    case NET_PEER_CIDR4:
        key = "CidrIp";
        break;
    case NET_PEER_CIDR6:
        key = "CidrIpv6";
        break;
    case NET_PEER_GROUP:
        key = egress ? "DestinationSecurityGroupId" : "SourceSecurityGroupId";
        break;
    case NET_PEER_PREFIX:
        key = egress ? "DestinationPrefixListId" : "SourcePrefixListId";
        break;
    }
    json_object_set_new(o, key, json_string(r->peer));
    if (!egress && r->owner[0] && r->kind == NET_PEER_GROUP)
        json_object_set_new(o, "SourceSecurityGroupOwnerId", json_string(r->owner));
    if (r->has_desc)
        json_object_set_new(o, "Description", json_string(r->desc));
    return o;
}

int net_rule_same(const net_rule *a, const net_rule *b)
{
    return strcmp(a->proto, b->proto) == 0 && a->from == b->from && a->to == b->to &&
           a->kind == b->kind && strcmp(a->peer, b->peer) == 0 &&
           (!a->owner[0] || !b->owner[0] || strcmp(a->owner, b->owner) == 0);
}

static int desc_same(const net_rule *a, const net_rule *b)
{
    return strcmp(a->has_desc ? a->desc : "", b->has_desc ? b->desc : "") == 0;
}

void net_rule_params(dr_kvlist *p, int n, const net_rule *r, int with_desc)
{
    char k[96];
    snprintf(k, sizeof(k), "IpPermissions.%d.IpProtocol", n);
    dr_kv_add(p, k, r->proto);
    if (proto_has_ports(r->proto)) {
        snprintf(k, sizeof(k), "IpPermissions.%d.FromPort", n);
        dr_kv_addf(p, k, "%ld", r->from);
        snprintf(k, sizeof(k), "IpPermissions.%d.ToPort", n);
        dr_kv_addf(p, k, "%ld", r->to);
    }
    const char *list = "IpRanges", *field = "CidrIp";
    switch (r->kind) {
    case NET_PEER_CIDR4:
        break;
    case NET_PEER_CIDR6:
        list = "Ipv6Ranges";
        field = "CidrIpv6";
        break;
    case NET_PEER_GROUP:
        list = "Groups";
        field = "GroupId";
        break;
    case NET_PEER_PREFIX:
        list = "PrefixListIds";
        field = "PrefixListId";
        break;
    }
    snprintf(k, sizeof(k), "IpPermissions.%d.%s.1.%s", n, list, field);
    dr_kv_add(p, k, r->peer);
    if (r->kind == NET_PEER_GROUP && r->owner[0]) {
        snprintf(k, sizeof(k), "IpPermissions.%d.Groups.1.UserId", n);
        dr_kv_add(p, k, r->owner);
    }
    if (with_desc) {
        snprintf(k, sizeof(k), "IpPermissions.%d.%s.1.Description", n, list);
        dr_kv_add(p, k, r->has_desc ? r->desc : "");
    }
}

/* ---- rule lists ---------------------------------------------------------- */

typedef struct rules {
    net_rule *v;
    size_t n;
} rules;

static void rules_free(rules *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void rules_add(rules *l, const net_rule *r)
{
    l->v = dr_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->v[l->n++] = *r;
}

static const net_rule *rules_find(const rules *l, const net_rule *r)
{
    for (size_t i = 0; i < l->n; i++)
        if (net_rule_same(&l->v[i], r))
            return &l->v[i];
    return NULL;
}

/* The rules of a CloudFormation list property; 0 with an empty list when
 * absent. */
static int rules_from_cfn(json_t *props, const char *key, int egress, rules *out, dr_err *err)
{
    json_t *a = json_object_get(props, key);
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        net_rule r;
        if (net_rule_from_cfn(o, egress, &r, err) != 0) {
            rules_free(out);
            return dr_err_wrap(err, "%s[%zu]", key, i);
        }
        rules_add(out, &r);
    }
    return 0;
}

/* The allow-all egress rule EC2 gives a new VPC group. */
static net_rule default_egress(void)
{
    net_rule r;
    memset(&r, 0, sizeof(r));
    strcpy(r.proto, "-1");
    r.from = r.to = -1;
    r.kind = NET_PEER_CIDR4;
    strcpy(r.peer, "0.0.0.0/0");
    return r;
}

static int egress_specified(json_t *props)
{
    json_t *a = json_object_get(props, "SecurityGroupEgress");
    return json_is_array(a) && json_array_size(a) > 0;
}

/* What egress the model means: its rules, or EC2's default when it gives
 * none. */
static int effective_egress(json_t *props, rules *out, dr_err *err)
{
    if (egress_specified(props))
        return rules_from_cfn(props, "SecurityGroupEgress", 1, out, err);
    net_rule d = default_egress();
    rules_add(out, &d);
    return 0;
}

/* One permission item of DescribeSecurityGroups (ipPermissions/item) to
 * rules, one per peer. */
static void rules_from_perm(xmlNodePtr perm, rules *out)
{
    net_rule base;
    memset(&base, 0, sizeof(base));
    char *proto = dr_xml_text(perm, "ipProtocol");
    snprintf(base.proto, sizeof(base.proto), "%s", proto ? proto : "-1");
    free(proto);
    net_proto_norm(base.proto);
    char *f = dr_xml_text(perm, "fromPort"), *t = dr_xml_text(perm, "toPort");
    rule_ports(&base, f != NULL, f ? atol(f) : -1, t != NULL, t ? atol(t) : -1);
    free(f);
    free(t);
    static const struct {
        const char *items, *field;
        net_peer_kind kind;
    } peers[] = {{"ipRanges/item", "cidrIp", NET_PEER_CIDR4},
                 {"ipv6Ranges/item", "cidrIpv6", NET_PEER_CIDR6},
                 {"groups/item", "groupId", NET_PEER_GROUP},
                 {"prefixListIds/item", "prefixListId", NET_PEER_PREFIX}};
    for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++)
        for (xmlNodePtr it = dr_xml_find(perm, peers[i].items); it; it = dr_xml_next_same(it)) {
            char *peer = dr_xml_text(it, peers[i].field);
            if (!peer)
                continue;
            net_rule r = base;
            r.kind = peers[i].kind;
            snprintf(r.peer, sizeof(r.peer), "%s", peer);
            free(peer);
            char *d = dr_xml_text(it, "description");
            if (d) {
                snprintf(r.desc, sizeof(r.desc), "%s", d);
                r.has_desc = 1;
                free(d);
            }
            if (r.kind == NET_PEER_GROUP) {
                char *u = dr_xml_text(it, "userId");
                if (u)
                    snprintf(r.owner, sizeof(r.owner), "%s", u);
                free(u);
            }
            rules_add(out, &r);
        }
}

static void rules_from_group(xmlNodePtr group, const char *perms_path, rules *out)
{
    for (xmlNodePtr p = dr_xml_find(group, perms_path); p; p = dr_xml_next_same(p))
        rules_from_perm(p, out);
}

/* ---- AWS::EC2::SecurityGroup --------------------------------------------- */

static int sg_describe(dr_apply_ctx *c, const char *id, xmlDocPtr *doc, xmlNodePtr *item,
                       dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "GroupId.1", id);
    *doc = NULL;
    *item = NULL;
    int rc = net_ec2(c, "DescribeSecurityGroups", &p, doc, err);
    dr_kv_free(&p);
    if (rc != 0) {
        if (!net_err_not_found(err))
            return -1;
        dr_err_clear(err);
        return 0;
    }
    *item = dr_xml_find(net_root(*doc), "securityGroupInfo/item");
    return 0;
}

/* The model's rules that exist, in the model's order, with what AWS says
 * their descriptions are (see the top of the file); NULL when the model
 * has no such list. */
static json_t *present_rules(json_t *want, const char *key, int egress, const rules *live)
{
    json_t *a = json_object_get(want, key);
    if (!json_is_array(a))
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *o;
    dr_err ignored;
    json_array_foreach(a, i, o)
    {
        net_rule r;
        dr_err_clear(&ignored);
        if (net_rule_from_cfn(o, egress, &r, &ignored) != 0)
            continue;
        const net_rule *l = rules_find(live, &r);
        if (!l)
            continue;
        if (desc_same(l, &r)) {
            json_array_append(out, o);
        } else {
            json_t *copy = json_deep_copy(o);
            if (l->has_desc)
                json_object_set_new(copy, "Description", json_string(l->desc));
            else
                json_object_del(copy, "Description");
            json_array_append_new(out, copy);
        }
    }
    return out;
}

static int sg_live(xmlNodePtr item, json_t *want, dr_live *out, dr_err *err)
{
    char *id = dr_xml_text(item, "groupId");
    if (!id)
        return dr_err_set(err, DR_E_AWS, "EC2 answered without a group id");
    json_t *attrs = json_pack("{s:s}", "GroupId", id);
    json_t *v = net_json_text(item, "vpcId");
    if (v)
        json_object_set_new(attrs, "VpcId", v);
    json_t *props = json_object();
    static const char *const map[][2] = {
        {"groupName", "GroupName"}, {"groupDescription", "GroupDescription"}, {"vpcId", "VpcId"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if ((v = net_json_text(item, map[i][0])))
            json_object_set_new(props, map[i][1], v);
    rules in = {0}, eg = {0};
    rules_from_group(item, "ipPermissions/item", &in);
    rules_from_group(item, "ipPermissionsEgress/item", &eg);
    if ((v = present_rules(want, "SecurityGroupIngress", 0, &in)))
        json_object_set_new(props, "SecurityGroupIngress", v);
    if ((v = present_rules(want, "SecurityGroupEgress", 1, &eg)))
        json_object_set_new(props, "SecurityGroupEgress", v);
    rules_free(&in);
    rules_free(&eg);
    net_live_set(out, id, attrs, props);
    free(id);
    return 0;
}

/* Authorize one rule; an identical rule already there is fine. */
static int rule_authorize(dr_apply_ctx *c, const char *group, const net_rule *r, int egress,
                          json_t *tags, xmlDocPtr *doc, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "GroupId", group);
    net_rule_params(&p, 1, r, r->has_desc);
    if (tags)
        net_tag_spec(&p, 1, "security-group-rule", tags);
    int rc = net_ec2(c, egress ? "AuthorizeSecurityGroupEgress" : "AuthorizeSecurityGroupIngress",
                     &p, doc, err);
    dr_kv_free(&p);
    return rc;
}

static int rule_revoke(dr_apply_ctx *c, const char *group, const net_rule *r, int egress,
                       dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "GroupId", group);
    net_rule_params(&p, 1, r, 0);
    int rc = net_ec2(c, egress ? "RevokeSecurityGroupEgress" : "RevokeSecurityGroupIngress", &p,
                     NULL, err);
    dr_kv_free(&p);
    if (rc != 0 && net_err_not_found(err)) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

static int rule_describe_update(dr_apply_ctx *c, const char *group, const net_rule *r, int egress,
                                dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "GroupId", group);
    net_rule_params(&p, 1, r, 1);
    int rc = net_ec2(c,
                     egress ? "UpdateSecurityGroupRuleDescriptionsEgress"
                            : "UpdateSecurityGroupRuleDescriptionsIngress",
                     &p, NULL, err);
    dr_kv_free(&p);
    return rc;
}

/* Brings one direction from `from` to `to`: authorises what is new first,
 * then fixes descriptions, then revokes what went (in that order, so that
 * allowed traffic is never cut in between). */
static int rules_apply(dr_apply_ctx *c, const char *group, const rules *from, const rules *to,
                       int egress, dr_err *err)
{
    for (size_t i = 0; i < to->n; i++) {
        if (rules_find(from, &to->v[i]))
            continue;
        if (rule_authorize(c, group, &to->v[i], egress, NULL, NULL, err) != 0) {
            if (!net_err_is(err, "InvalidPermission.Duplicate"))
                return -1;
            dr_err_clear(err);
        }
    }
    for (size_t i = 0; i < to->n; i++) {
        const net_rule *had = rules_find(from, &to->v[i]);
        if (had && !desc_same(had, &to->v[i]) &&
            rule_describe_update(c, group, &to->v[i], egress, err) != 0)
            return -1;
    }
    for (size_t i = 0; i < from->n; i++)
        if (!rules_find(to, &from->v[i]) && rule_revoke(c, group, &from->v[i], egress, err) != 0)
            return -1;
    return 0;
}

/* The group named `name` in vpc when it carries our tags; *id NULL when
 * there is none or it is not ours (*foreign = 1). */
static int sg_by_name(dr_apply_ctx *c, const char *vpc, const char *name, const char *logical_id,
                      char **id, int *foreign, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    int k = 0;
    if (vpc)
        net_filter(&p, &k, "vpc-id", vpc);
    net_filter(&p, &k, "group-name", name);
    xmlDocPtr doc = NULL;
    *id = NULL;
    *foreign = 0;
    int rc = net_ec2(c, "DescribeSecurityGroups", &p, &doc, err);
    dr_kv_free(&p);
    if (rc == 0) {
        xmlNodePtr it = dr_xml_find(net_root(doc), "securityGroupInfo/item");
        if (it && net_tags_match(c, it, logical_id))
            *id = dr_xml_text(it, "groupId");
        else if (it)
            *foreign = 1;
    }
    xmlFreeDoc(doc);
    return rc;
}

/* Create's rules: the model's on top of what the group has (a fresh group:
 * the default egress; a retried create: some of the model's already), and
 * the default egress revoked when the model gives egress rules. */
static int sg_initial_rules(dr_apply_ctx *c, const char *id, const rules *in, const rules *eg,
                            int egress_given, dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    if (sg_describe(c, id, &doc, &item, err) != 0)
        return -1;
    if (!item) {
        xmlFreeDoc(doc);
        return dr_err_set(err, DR_E_AWS, "security group %s is gone right after its creation", id);
    }
    rules live_in = {0}, live_eg = {0};
    rules_from_group(item, "ipPermissions/item", &live_in);
    rules_from_group(item, "ipPermissionsEgress/item", &live_eg);
    xmlFreeDoc(doc);
    /* from = what is there, restricted to what may go (only the default
     * egress); to = the model. */
    rules keep_in = {0}, from_eg = {0};
    for (size_t i = 0; i < live_in.n; i++)
        if (rules_find(in, &live_in.v[i]))
            rules_add(&keep_in, &live_in.v[i]);
    net_rule d = default_egress();
    net_rule d6 = default_egress();
    d6.kind = NET_PEER_CIDR6;
    strcpy(d6.peer, "::/0");
    for (size_t i = 0; i < live_eg.n; i++)
        if (rules_find(eg, &live_eg.v[i]) || (egress_given && (net_rule_same(&live_eg.v[i], &d) ||
                                                               net_rule_same(&live_eg.v[i], &d6))))
            rules_add(&from_eg, &live_eg.v[i]);
    int rc = rules_apply(c, id, &keep_in, in, 0, err);
    if (rc == 0 && egress_given)
        rc = rules_apply(c, id, &from_eg, eg, 1, err);
    rules_free(&live_in);
    rules_free(&live_eg);
    rules_free(&keep_in);
    rules_free(&from_eg);
    return rc;
}

int net_sg_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                  const char *token, dr_live *out, dr_err *err)
{
    const char *desc = net_str(props, "GroupDescription");
    const char *vpc = net_str(props, "VpcId");
    if (!desc)
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::EC2::SecurityGroup %s: GroupDescription is required", logical_id);
    if (json_object_get(props, "VpcId") && !vpc)
        return dr_err_set(err, DR_E_CONFIG, "AWS::EC2::SecurityGroup %s: VpcId is not known",
                          logical_id);
    /* The rules first: a rule drctl cannot express must not leave a group
     * behind. */
    rules in = {0}, eg = {0};
    if (rules_from_cfn(props, "SecurityGroupIngress", 0, &in, err) != 0 ||
        rules_from_cfn(props, "SecurityGroupEgress", 1, &eg, err) != 0) {
        rules_free(&in);
        return dr_err_wrap(err, "AWS::EC2::SecurityGroup %s", logical_id);
    }
    /* CloudFormation names an unnamed group "<stack>-<logical id>-<suffix>";
     * the token keeps a replacement's name apart from the old copy's. */
    const char *given = net_str(props, "GroupName");
    char *name = given ? dr_xstrdup(given)
                       : dr_xasprintf("%s-%s-%.8s", c->stack, logical_id, token ? token : "");
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "GroupName", name);
    dr_kv_add(&p, "GroupDescription", desc);
    if (vpc)
        dr_kv_add(&p, "VpcId", vpc);
    net_tag_spec(&p, 1, "security-group", tags);
    xmlDocPtr doc = NULL;
    int rc = net_ec2(c, "CreateSecurityGroup", &p, &doc, err);
    dr_kv_free(&p);
    char *id = rc == 0 ? dr_xml_text(net_root(doc), "groupId") : NULL;
    xmlFreeDoc(doc);
    int created = rc == 0;
    if (rc != 0 && net_err_is(err, "InvalidGroup.Duplicate")) {
        /* Names are unique per VPC: a retried create finds its own group. */
        dr_err keep = *err;
        int foreign = 0;
        rc = sg_by_name(c, vpc, name, logical_id, &id, &foreign, err);
        if (rc == 0 && !id) {
            *err = keep;
            if (foreign)
                dr_err_hint(err,
                            "a group named %s exists in the VPC without drctl's tags for %s: "
                            "rename or delete it",
                            name, logical_id);
            rc = -1;
        }
    }
    if (rc == 0 && !id)
        rc = dr_err_set(err, DR_E_AWS, "CreateSecurityGroup answered without a group id");
    if (rc == 0)
        rc = sg_initial_rules(c, id, &in, &eg, egress_specified(props), err);
    if (rc != 0 && created && id) {
        /* Leave nothing half-configured behind for find to adopt. */
        dr_err keep = *err, ignored;
        dr_err_clear(&ignored);
        dr_kvlist d = DR_KVLIST_INIT;
        dr_kv_add(&d, "GroupId", id);
        if (net_ec2(c, "DeleteSecurityGroup", &d, NULL, &ignored) != 0)
            dr_warn(c->log,
                    "security group %s was created but its rules failed, and deleting it "
                    "failed: %s",
                    id, ignored.msg);
        dr_kv_free(&d);
        *err = keep;
    }
    if (rc == 0) {
        int exists = 0;
        rc = net_sg_read(c, id, props, &exists, out, err);
        if (rc == 0 && !exists)
            rc =
                dr_err_set(err, DR_E_AWS, "security group %s is gone right after its creation", id);
    }
    rules_free(&in);
    rules_free(&eg);
    free(name);
    free(id);
    return rc;
}

int net_sg_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found, dr_live *out,
                dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *found = 0;
    int rc = net_find_tagged(c, "DescribeSecurityGroups", "securityGroupInfo/item", logical_id,
                             NULL, NULL, &doc, &item, err);
    if (rc == 0 && item) {
        rc = sg_live(item, props, out, err);
        *found = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_sg_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists, dr_live *out,
                dr_err *err)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *exists = 0;
    int rc = sg_describe(c, physical_id, &doc, &item, err);
    if (rc == 0 && item) {
        rc = sg_live(item, props, out, err);
        *exists = rc == 0;
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_sg_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props, json_t *new_props,
                  dr_live *out, dr_err *err)
{
    rules in0 = {0}, in1 = {0}, eg0 = {0}, eg1 = {0};
    int rc = 0;
    if (rules_from_cfn(old_props, "SecurityGroupIngress", 0, &in0, err) != 0 ||
        rules_from_cfn(new_props, "SecurityGroupIngress", 0, &in1, err) != 0 ||
        effective_egress(old_props, &eg0, err) != 0 || effective_egress(new_props, &eg1, err) != 0)
        rc = -1;
    if (rc == 0)
        rc = rules_apply(c, physical_id, &in0, &in1, 0, err);
    if (rc == 0)
        rc = rules_apply(c, physical_id, &eg0, &eg1, 1, err);
    if (rc == 0)
        rc = net_update_tags(c, physical_id, json_object_get(old_props, "Tags"),
                             json_object_get(new_props, "Tags"), err);
    rules_free(&in0);
    rules_free(&in1);
    rules_free(&eg0);
    rules_free(&eg1);
    if (rc != 0)
        return -1;
    int exists = 0;
    if (net_sg_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    return exists ? 0
                  : dr_err_set(err, DR_E_AWS, "security group %s disappeared during update",
                               physical_id);
}

static int sg_delete_attempt(dr_apply_ctx *c, void *ud, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "GroupId", (const char *)ud);
    int rc = net_ec2(c, "DeleteSecurityGroup", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0 && net_err_not_found(err)) {
        dr_err_clear(err);
        rc = 0;
    }
    return rc;
}

int net_sg_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    /* Network interfaces (endpoints, tasks, the database) hold a group
     * until AWS has released them, and a group referenced by another
     * group's rule cannot go: DependencyViolation until then. */
    static const char *const busy[] = {"DependencyViolation", NULL};
    char what[128];
    snprintf(what, sizeof(what), "security group %s to be free of network interfaces", physical_id);
    return net_retry_busy(c, what, 900, busy, sg_delete_attempt, (void *)physical_id, err);
}

/* ---- AWS::EC2::SecurityGroupEgress --------------------------------------- */

/* A rule of DescribeSecurityGroupRules (securityGroupRuleSet/item). */
static void rule_from_sgr(xmlNodePtr it, net_rule *r)
{
    memset(r, 0, sizeof(*r));
    char *proto = dr_xml_text(it, "ipProtocol");
    snprintf(r->proto, sizeof(r->proto), "%s", proto ? proto : "-1");
    free(proto);
    net_proto_norm(r->proto);
    char *f = dr_xml_text(it, "fromPort"), *t = dr_xml_text(it, "toPort");
    rule_ports(r, f != NULL, f ? atol(f) : -1, t != NULL, t ? atol(t) : -1);
    free(f);
    free(t);
    char *s;
    if ((s = dr_xml_text(it, "cidrIpv4"))) {
        r->kind = NET_PEER_CIDR4;
    } else if ((s = dr_xml_text(it, "cidrIpv6"))) {
        r->kind = NET_PEER_CIDR6;
    } else if ((s = dr_xml_text(it, "prefixListId"))) {
        r->kind = NET_PEER_PREFIX;
    } else if ((s = dr_xml_text(it, "referencedGroupInfo/groupId"))) {
        r->kind = NET_PEER_GROUP;
        char *u = dr_xml_text(it, "referencedGroupInfo/userId");
        if (u)
            snprintf(r->owner, sizeof(r->owner), "%s", u);
        free(u);
    }
    snprintf(r->peer, sizeof(r->peer), "%s", s ? s : "");
    free(s);
    char *d = dr_xml_text(it, "description");
    if (d) {
        snprintf(r->desc, sizeof(r->desc), "%s", d);
        r->has_desc = 1;
    }
    free(d);
}

static void sgegress_live(const char *id, const char *group, const net_rule *r, dr_live *out)
{
    json_t *props = net_rule_to_cfn(r, 1);
    json_object_set_new(props, "GroupId", json_string(group));
    net_live_set(out, id, json_pack("{s:s}", "Id", id), props);
}

typedef struct sgr_match {
    const net_rule *want;
} sgr_match;

static int sgr_same(dr_apply_ctx *c, xmlNodePtr it, void *ud)
{
    sgr_match *m = ud;
    if (!net_xml_bool(it, "isEgress", 0))
        return 0;
    net_rule r;
    rule_from_sgr(it, &r);
    return net_rule_same(&r, m->want);
}

/* The id of the egress rule of group that is the same permission as want,
 * with its live form in *live; *id NULL when none. */
static int sgr_lookup(dr_apply_ctx *c, const char *group, const net_rule *want, char **id,
                      net_rule *live, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    int k = 0;
    net_filter(&p, &k, "group-id", group);
    sgr_match m = {want};
    xmlDocPtr doc = NULL;
    xmlNodePtr item = NULL;
    *id = NULL;
    int rc = net_describe_find(c, "DescribeSecurityGroupRules", &p, "securityGroupRuleSet/item",
                               sgr_same, &m, &doc, &item, err);
    dr_kv_free(&p);
    if (rc != 0 && net_err_not_found(err)) {
        dr_err_clear(err);
        rc = 0;
    }
    if (rc == 0 && item) {
        *id = dr_xml_text(item, "securityGroupRuleId");
        rule_from_sgr(item, live);
    }
    xmlFreeDoc(doc);
    return rc;
}

int net_sgegress_create(dr_apply_ctx *c, const char *logical_id, json_t *props, json_t *tags,
                        const char *token, dr_live *out, dr_err *err)
{
    const char *group = net_str(props, "GroupId");
    if (!group)
        return dr_err_set(err, DR_E_CONFIG,
                          "AWS::EC2::SecurityGroupEgress %s: GroupId is not known", logical_id);
    net_rule r;
    if (net_rule_from_cfn(props, 1, &r, err) != 0)
        return dr_err_wrap(err, "AWS::EC2::SecurityGroupEgress %s", logical_id);
    xmlDocPtr doc = NULL;
    char *id = NULL;
    int rc = rule_authorize(c, group, &r, 1, tags, &doc, err);
    if (rc == 0)
        id = dr_xml_text(net_root(doc), "securityGroupRuleSet/item/securityGroupRuleId");
    xmlFreeDoc(doc);
    if ((rc == 0 && !id) || (rc != 0 && net_err_is(err, "InvalidPermission.Duplicate"))) {
        /* There already (a retried create), or EC2 did not say which id. */
        dr_err keep = *err;
        net_rule live;
        rc = sgr_lookup(c, group, &r, &id, &live, err);
        if (rc == 0 && !id) {
            *err = keep;
            if (!err->has_aws)
                dr_err_set(err, DR_E_AWS, "the egress rule of %s cannot be found", group);
            rc = -1;
        }
        if (rc == 0 && !desc_same(&live, &r))
            rc = rule_describe_update(c, group, &r, 1, err);
    }
    if (rc == 0)
        sgegress_live(id, group, &r, out);
    free(id);
    return rc;
}

int net_sgegress_find(dr_apply_ctx *c, const char *logical_id, json_t *props, int *found,
                      dr_live *out, dr_err *err)
{
    const char *group = net_str(props, "GroupId");
    *found = 0;
    net_rule r;
    dr_err ignored;
    dr_err_clear(&ignored);
    if (!group || net_rule_from_cfn(props, 1, &r, &ignored) != 0)
        return 0; /* not known yet: nothing to look with */
    char *id = NULL;
    net_rule live;
    if (sgr_lookup(c, group, &r, &id, &live, err) != 0)
        return -1;
    if (id) {
        sgegress_live(id, group, &live, out);
        *found = 1;
    }
    free(id);
    return 0;
}

/* The rule by id: *group (caller frees) NULL when gone. */
static int sgr_by_id(dr_apply_ctx *c, const char *id, char **group, net_rule *r, dr_err *err)
{
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "SecurityGroupRuleId.1", id);
    xmlDocPtr doc = NULL;
    *group = NULL;
    int rc = net_ec2(c, "DescribeSecurityGroupRules", &p, &doc, err);
    dr_kv_free(&p);
    if (rc != 0) {
        if (!net_err_not_found(err))
            return -1;
        dr_err_clear(err);
        return 0;
    }
    for (xmlNodePtr it = dr_xml_find(net_root(doc), "securityGroupRuleSet/item"); it && !*group;
         it = dr_xml_next_same(it))
        if (net_xml_eq(it, "securityGroupRuleId", id)) {
            *group = dr_xml_text(it, "groupId");
            rule_from_sgr(it, r);
        }
    xmlFreeDoc(doc);
    return 0;
}

int net_sgegress_read(dr_apply_ctx *c, const char *physical_id, json_t *props, int *exists,
                      dr_live *out, dr_err *err)
{
    char *group = NULL;
    net_rule r;
    *exists = 0;
    if (sgr_by_id(c, physical_id, &group, &r, err) != 0)
        return -1;
    if (group) {
        sgegress_live(physical_id, group, &r, out);
        *exists = 1;
    }
    free(group);
    return 0;
}

int net_sgegress_update(dr_apply_ctx *c, const char *physical_id, json_t *old_props,
                        json_t *new_props, dr_live *out, dr_err *err)
{
    const char *group = net_str(new_props, "GroupId");
    net_rule r;
    if (!group)
        return dr_err_set(err, DR_E_CONFIG, "GroupId is not known");
    if (net_rule_from_cfn(new_props, 1, &r, err) != 0)
        return -1;
    if (rule_describe_update(c, group, &r, 1, err) != 0)
        return -1;
    int exists = 0;
    if (net_sgegress_read(c, physical_id, new_props, &exists, out, err) != 0)
        return -1;
    if (!exists)
        return dr_err_set(err, DR_E_AWS, "egress rule %s disappeared during update", physical_id);
    /* moto drops descriptions of group-referencing rules from
     * DescribeSecurityGroupRules: report what was set. */
    if (r.has_desc)
        json_object_set_new(out->properties, "Description", json_string(r.desc));
    return 0;
}

int net_sgegress_remove(dr_apply_ctx *c, const char *physical_id, json_t *props, dr_err *err)
{
    char *group = NULL;
    net_rule r;
    if (sgr_by_id(c, physical_id, &group, &r, err) != 0)
        return -1;
    if (!group)
        return 0;
    dr_kvlist p = DR_KVLIST_INIT;
    dr_kv_add(&p, "GroupId", group);
    dr_kv_add(&p, "SecurityGroupRuleId.1", physical_id);
    int rc = net_ec2(c, "RevokeSecurityGroupEgress", &p, NULL, err);
    dr_kv_free(&p);
    if (rc != 0 && net_err_not_found(err)) {
        dr_err_clear(err);
        rc = 0;
    }
    free(group);
    return rc;
}
