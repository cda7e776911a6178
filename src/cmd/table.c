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
     "       drctl synth --global [--active] [--config-dir DIR] [--out FILE|-]",
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
     "  --active          a standby as it runs after failover (full stack); with\n"
     "                    --global, the edge with that standby serving (a resting\n"
     "                    backup-and-restore standby has no load balancer: the edge\n"
     "                    then fronts the primary alone)\n"
     "  --config-dir DIR  the profile directory (default: DRCTL_CONFIG_DIR, else\n"
     "                    regions)\n"
     "  --out FILE        write the template to FILE (atomically); '-' is stdout\n"
     "                    (the default)\n",
     cmd_synth},
    {"plan", "Show what deploy would change in a region, changing nothing",
     "drctl plan REGION [--config-dir DIR] [--store DIR]\n"
     "       drctl plan --global [--config-dir DIR] [--store DIR]",
     "Compares the resource model the profiles resolve to (see 'drctl synth') with\n"
     "what exists: the deployed state in the store, checked with one AWS read per\n"
     "resource, and, for resources the state does not know, a look-up by their tags\n"
     "(drctl:stack, drctl:logical-id). One line per change:\n"
     "  +   create   LOGICAL-ID TYPE (why, when not simply new)\n"
     "  ~   update   LOGICAL-ID TYPE ID (Property, ...)        in place\n"
     "  -/+ replace  LOGICAL-ID TYPE ID (Property: why)         new resource, old deleted\n"
     "  -   delete   LOGICAL-ID TYPE ID (not in the model)\n"
     "  =   adopt    LOGICAL-ID TYPE ID (found by its tags)\n"
     "then \"Plan: N to create, N to update, N to replace, N to delete.\" or\n"
     "\"No changes.\". Only reads are sent to AWS; the state file is not written.\n"
     "\n"
     "Options:\n"
     "  --global          the global edge model (us-east-1, scope \"global\")\n"
     "  --config-dir DIR  the profile directory (default: DRCTL_CONFIG_DIR, else\n"
     "                    regions)\n"
     "  --store DIR       the store holding the deployed state (default: DRCTL_STORE,\n"
     "                    else snapshots); state is <store>/state/<stack>/<region>.json\n",
     cmd_plan},
    {"deploy", "Create or update a region's stack (then the global edge)",
     "drctl deploy REGION [--dry-run] [--yes] [--concurrency N] [--wait] [--no-edge]\n"
     "                    [--config-dir DIR] [--store DIR]\n"
     "       drctl deploy --global [options]",
     "Plans (as 'drctl plan') and applies the plan: independent resources are\n"
     "created concurrently, each tagged drctl:stack and drctl:logical-id, with\n"
     "idempotency tokens where AWS takes them, and journaled in the state before\n"
     "and after each call, so that a run killed at any point continues where it\n"
     "stopped when run again, with nothing created twice. The first failure stops\n"
     "new work; the error names the resource and AWS's message, and what exists is\n"
     "listed. Progress: on a terminal a live line per resource in flight; otherwise\n"
     "one line per completed resource. Then the outputs (load balancer DNS name,\n"
     "database endpoint, bucket, cluster and service, ...) are saved and shown.\n"
     "With nothing to change it says so, sends AWS no write and exits 0.\n"
     "\n"
     "On a terminal it asks before applying (unless --yes); without one it applies\n"
     "creates and updates, and needs --yes for a plan that replaces or deletes.\n"
     "\n"
     "When edge.enabled is on, the global model (WAF, CloudFront, Route 53 failover\n"
     "in us-east-1) follows once every region has saved the outputs it needs.\n"
     "\n"
     "One deploy or destroy per stack and region at a time: a second one exits 9\n"
     "at once (the lock is <store>/locks/<stack>-<region>.lock), or with --wait\n"
     "queues behind the first.\n"
     "\n"
     "Options:\n"
     "  --dry-run         plan only\n"
     "  --yes             apply without asking\n"
     "  --concurrency N   resources worked on at once (1-32, default 4)\n"
     "  --wait            wait for the lock instead of failing\n"
     "  --global          deploy only the global edge model\n"
     "  --no-edge         do not follow with the global edge\n"
     "  --config-dir DIR  the profile directory (default: DRCTL_CONFIG_DIR, else\n"
     "                    regions)\n"
     "  --store DIR       the store (default: DRCTL_STORE, else snapshots)\n"
     "\n"
     "Environment: DRCTL_WAIT_INITIAL_MS, DRCTL_WAIT_MAX_MS (first and longest\n"
     "pause between polls of a resource that is not ready; default 2000, 30000)\n"
     "and DRCTL_WAIT_TIMEOUT_S (longest wait for one resource).\n",
     cmd_deploy},
    {"status", "Show what is deployed in each region and whether it serves",
     "drctl status [REGION] [--config-dir DIR] [--store DIR]",
     "Per region of the profiles (or the one given), and the global edge when it\n"
     "is deployed: the resources of the deployed state with their status\n"
     "(ready, creating, deleting), the saved outputs, and two live reads: the ECS\n"
     "service's desired, running and pending tasks (DescribeServices) and the\n"
     "load balancer's target health (DescribeTargetHealth). A live read that fails\n"
     "is shown in its place, and the exit code is then that of the failure.\n"
     "'--output json' gives the same as one JSON document.\n"
     "\n"
     "Options:\n"
     "  --config-dir DIR  the profile directory (default: DRCTL_CONFIG_DIR, else\n"
     "                    regions)\n"
     "  --store DIR       the store (default: DRCTL_STORE, else snapshots)\n",
     cmd_status},
    {"destroy", "Delete every resource of the stack in a region",
     "drctl destroy REGION [--yes] [--force] [--dry-run] [--wait] [--concurrency N]\n"
     "                     [--no-final-snapshot] [--config-dir DIR] [--store DIR]\n"
     "       drctl destroy --global [options]",
     "Deletes everything of the stack in the region: what the state lists and what\n"
     "AWS has with the stack's tags, dependents before what they use, waiting where\n"
     "AWS takes time (NAT gateways, network interfaces, endpoints). Data goes too\n"
     "(buckets are emptied, the KMS key is scheduled for deletion, secrets are\n"
     "deleted); the database is deleted with a final snapshot. A failure does not\n"
     "stop the rest: what could not be deleted is listed at the end, and the exit\n"
     "code is then non-zero. Running it again continues with what is left.\n"
     "\n"
     "On a terminal it asks you to type the region's name; without one it needs\n"
     "--yes. The primary region is refused unless --force.\n"
     "\n"
     "Options:\n"
     "  --dry-run            list what would be deleted\n"
     "  --yes                do not ask\n"
     "  --force              allow destroying the primary region\n"
     "  --global             destroy the global edge (us-east-1) instead of a region\n"
     "  --no-final-snapshot  delete the database without a final snapshot\n"
     "  --wait               wait for the lock instead of failing\n"
     "  --concurrency N      deletions at once (1-32, default 4)\n"
     "  --config-dir DIR     the profile directory (default: DRCTL_CONFIG_DIR, else\n"
     "                       regions)\n"
     "  --store DIR          the store (default: DRCTL_STORE, else snapshots)\n",
     cmd_destroy},
    {"backup", "Back up the deployed stack into a versioned bundle",
     "drctl backup [--region R] [--store DIR|s3://BUCKET/PREFIX] [--full] [--wait]",
     "Captures the stack deployed in R (default: the primary) into one bundle, found\n"
     "through the deployed state, never by guessing names:\n"
     "  config/   the profile files, the rendered templates, the deployed state, the\n"
     "            ECS task definition in use, <config-dir>/litellm-config.yaml if any\n"
     "  secrets/  every Secrets Manager value of the stack, sealed (never in clear)\n"
     "  db/       pg_dump -Fc streamed into the bundle, with per-table row counts and\n"
     "            checksums taken in the dump's own snapshot; with\n"
     "            database.native_snapshots an RDS snapshot tagged with the bundle\n"
     "            version, copied to the standby under the standby's KMS key\n"
     "  s3/       the bucket's objects with their metadata, downloaded in parallel;\n"
     "            an incremental bundle holds only objects changed since its parent\n"
     "            (a full one every retention.full_every backups, or with --full)\n"
     "The bundle is written under a temporary name, reopened and its signed manifest\n"
     "checked, then published atomically as <store>/bundles/<stack>/<stack>-vN.drb\n"
     "and copied to the vault bucket of the standby region. A run that is killed\n"
     "leaves nothing listed; the next run removes its leftovers and uploads any\n"
     "bundle the vault lacks. Versions count up per stack.\n"
     "\n"
     "Without a terminal (cron) only warnings and one summary line are printed:\n"
     "version, size, duration, objects, rows, and the RPO now. A second backup of\n"
     "the same stack exits at once with exit code 9 (locked), or waits with --wait.\n"
     "\n"
     "Options:\n"
     "  --region R          the region to back up (default: the primary)\n"
     "  --store DIR         the local store (default: DRCTL_STORE, else snapshots);\n"
     "                      also where the deployed state is read\n"
     "  --store s3://B/P    publish into this S3 bucket instead of the local store\n"
     "                      (the state is then read from DRCTL_STORE or snapshots)\n"
     "  --store-region R    the region of an s3:// store (default: the standby)\n"
     "  --full              a full bundle even when an incremental one is due\n"
     "  --no-vault          do not copy the bundle to the standby's vault bucket\n"
     "  --concurrency N     parallel object transfers (1..32, default 8)\n"
     "  --recovery-key PEM  also wrap the bundle key for this RSA public key (default:\n"
     "                      encryption.recovery_public_key)\n"
     "  --wait              wait for another backup of the stack to finish\n"
     "  --config-dir DIR    the profile directory (default: DRCTL_CONFIG_DIR, else\n"
     "                      regions)\n",
     cmd_backup},
    {"bundles", "List, inspect, verify and prune the stack's bundles",
     "drctl bundles list [--store DIR|s3://BUCKET/PREFIX] [--vault] [--config-dir DIR]\n"
     "       drctl bundles show V [--recovery-key FILE] [store options]\n"
     "       drctl bundles verify V [--deep] [--scratch-db CONNINFO] [--recovery-key FILE]\n"
     "                            [store options]\n"
     "       drctl bundles prune [--dry-run] [--wait] [store options]",
     "Works on the bundles of the stack named by the profiles, in the local store\n"
     "(<store>/bundles/<stack>/), an S3 store (--store s3://...) or the vault bucket\n"
     "of the standby region (--vault). The region R is --region, else the primary.\n"
     "\n"
     "  list          one line per bundle: version, captured-at time (UTC), size,\n"
     "                kind (full or incremental), parent, age; the newest says\n"
     "                \"RPO ok\" or \"RPO exceeded\" against dr.rpo_minutes. Read from\n"
     "                the summaries beside the bundles: no key needed. A vault bundle\n"
     "                whose summary is missing shows \"?\". '--output json' gives an array.\n"
     "  show V        the summary and a digest of the signed manifest (entries per\n"
     "                top directory, snapshots, parent, captured-at); with\n"
     "                '--output json' the whole manifest. Opens the bundle: KMS in R,\n"
     "                then the other regions, and/or the recovery key.\n"
     "  verify V      reads the whole bundle and checks every hash and every\n"
     "                encryption tag, the signature, and the file's SHA-256 against its\n"
     "                summary: \"vN: ok (E entries, B bytes, opened with X)\", or exit 7\n"
     "                naming the entry or segment at fault.\n"
     "  prune         applies retention (retention.keep_last, daily, weekly, monthly\n"
     "                of R's profile; the newest verified bundle and the parents of\n"
     "                kept incrementals are always kept): one line per bundle\n"
     "                \"keep vN (rule)\" or \"delete vN\", then deletes them with the RDS\n"
     "                snapshots their summaries record. Holds the backup lock\n"
     "                (<store>/locks/<stack>-backup.lock): exits 9 while a backup runs.\n"
     "\n"
     "V is a version number, 7 or v7; an unknown version exits 11 and lists the\n"
     "versions there are.\n"
     "\n"
     "Options:\n"
     "  --store DIR|s3://BUCKET/PREFIX\n"
     "                       the store (default: DRCTL_STORE, else snapshots); an S3\n"
     "                       store is read in --region, else the standby's region\n"
     "  --vault              the standby's vault bucket (VaultBucketName of its deployed\n"
     "                       state) instead of the local store\n"
     "  --config-dir DIR     the profile directory (default: DRCTL_CONFIG_DIR, else\n"
     "                       regions)\n"
     "  --recovery-key FILE  show/verify: a PEM RSA private key that opens the bundle\n"
     "                       without KMS (default: DRCTL_RECOVERY_KEY)\n"
     "  --deep               verify: also restore db/dump.pgc into a scratch database\n"
     "                       (drctl_verify_<V>_<pid>, always dropped) and compare every\n"
     "                       table's rows and checksum with db/tables.json\n"
     "  --scratch-db CONNINFO\n"
     "                       verify --deep: the PostgreSQL server to restore on\n"
     "                       (default: DRCTL_SCRATCH_DB, else the standby's DRCTL_DB_MAP\n"
     "                       entry; never the primary's)\n"
     "  --dry-run            prune: print the decisions, delete nothing\n"
     "  --wait               prune: wait for a running backup instead of failing\n",
     cmd_bundles},
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
