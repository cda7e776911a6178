/* table.c - the command table: one entry per command, in help order. */
#include <string.h>

#include "cmd/commands.h"

static const dr_command commands[] = {
    {"doctor", "Check credentials, endpoints, tools and the local store",
     "drctl doctor [REGION...]",
     "Runs one check per line and exits non-zero when a required check fails:\n"
     "  credentials     where the AWS credentials come from (never their values)\n"
     "  identity        STS GetCallerIdentity\n"
     "  REGION/PROTO    one real call per AWS protocol family in each region:\n"
     "                  query (STS), ec2 (EC2 DescribeVpcs), json (KMS ListKeys),\n"
     "                  rest-xml (S3 ListBuckets), with the endpoint used and its source\n"
     "  pg_dump, pg_restore   present, and their versions\n"
     "  store           the local bundle store is writable\n"
     "  database REGION the sandbox database mapping (DRCTL_DB_MAP), when set:\n"
     "                  reported and connected to\n"
     "\n"
     "Regions: the REGION arguments, else the default region (--region, AWS_REGION,\n"
     "AWS_DEFAULT_REGION, the profile's region).\n"
     "\n"
     "Options:\n"
     "  --store DIR     the local bundle store to check (default: snapshots, or\n"
     "                  DRCTL_STORE)\n",
     cmd_doctor},
    {"validate", "Check the region profiles and show every problem at once",
     "drctl validate [--config-dir DIR]",
     "Reads defaults.yaml and every <region>.yaml of the profile directory, lays\n"
     "each region file over the defaults and checks the result: known keys, types,\n"
     "ranges and allowed values, CIDR blocks (and that regions do not overlap),\n"
     "exactly one primary, Fargate CPU/memory pairs, RTO targets the DR strategy\n"
     "can reach, and stack-wide settings (stack, dns, edge, dr) equal in every\n"
     "region. No AWS call is made.\n"
     "\n"
     "Prints one line per region (region, role, stack, strategy, CIDR) when all is\n"
     "well; otherwise every problem as FILE:LINE:COLUMN: KEY: MESSAGE on stderr and\n"
     "exits 3. Keys are described in docs/profiles.md.\n"
     "\n"
     "Options:\n"
     "  --config-dir DIR  the profile directory (default: DRCTL_CONFIG_DIR, else\n"
     "                    regions; regions/sandbox for the local sandbox)\n",
     cmd_validate},
    {"synth", "Render a region's resource model as a CloudFormation template",
     "drctl synth REGION [--active] [--config-dir DIR] [--out FILE|-]\n"
     "       drctl synth --global [--config-dir DIR] [--out FILE|-]",
     "Resolves the region profiles into the resource model that deploy converges\n"
     "AWS to, and prints it as a CloudFormation template (JSON): every resource\n"
     "with its type and properties, tagged drctl:stack and drctl:logical-id.\n"
     "Subnet CIDRs and AZ names are literal; the output is the same for the same\n"
     "profiles. No AWS call is made.\n"
     "\n"
     "A standby renders as it rests between failovers (dr.strategy decides what\n"
     "is deployed ahead of time); --active renders it as it runs after failover.\n"
     "Values that come from another region's stack (the primary's database for a\n"
     "read replica, the load balancers for the edge) become template Parameters\n"
     "named <Region><Output>, e.g. UsEast1DbInstanceArn. Secret values never appear:\n"
     "passwords are Secrets Manager dynamic references.\n"
     "\n"
     "Options:\n"
     "  --global          the global edge template (us-east-1): WAF web ACL,\n"
     "                    CloudFront with primary -> standby origin failover,\n"
     "                    Route 53 health checks and failover records (edge.enabled)\n"
     "  --active          a standby as it runs after failover (full stack)\n"
     "  --config-dir DIR  the profile directory (default: DRCTL_CONFIG_DIR, else\n"
     "                    regions)\n"
     "  --out FILE        write the template to FILE (atomically); '-' is stdout\n"
     "                    (the default)\n",
     cmd_synth},
    {"version", "Print the version", "drctl version", "", cmd_version},
    {"help", "Show help for drctl or one command", "drctl help [COMMAND]", "", cmd_help},
    {NULL, NULL, NULL, NULL, NULL},
};

const dr_command *dr_commands(void)
{
    return commands;
}

const dr_command *dr_command_find(const char *name)
{
    for (const dr_command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}
