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
