/* cmd_fleet.c - the fleet as an operator manages it (fleet/manage.h):
 * `machine move`, `machine decommission`, `user deactivate|activate`.
 * Their rows sit in the machine and user tables (cmd_machine.c, cmd_admin.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/manage.h"

#define MOD "cli"

int cli_run_machine_move(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_machine m;
	struct store_org o;
	struct store_site site;
	const char *serial = cli_get(a, "serial");
	int rc;

	if (cli_get(a, "customer") == NULL && cli_get(a, "site") == NULL && !cli_flag(a, "no-site")) {
		log_error(MOD, "say where to: --site X, --customer C [--site X], or --no-site");
		return CC_ERR_INVALID;
	}
	if (cli_get(a, "site") != NULL && cli_flag(a, "no-site")) {
		log_error(MOD, "--site and --no-site exclude each other");
		return CC_ERR_INVALID;
	}
	rc = manage_machine_move(a->vault, serial, cli_get(a, "customer"), cli_get(a, "site"), &m);
	if (rc != CC_OK)
		return rc;
	if (s->ops->org_get(s, m.customer_id, &o) != CC_OK)
		snprintf(o.name, sizeof(o.name), "?");
	if (m.site_id == 0 || s->ops->site_get(s, m.site_id, &site) != CC_OK)
		site.name[0] = '\0';
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:s, s:s?}", "serial", m.serial, "customer", o.name, "site",
		                                site.name[0] ? site.name : NULL));
	printf("moved %s to %s%s%s\n", m.serial, o.name, site.name[0] ? ", site " : "", site.name);
	return CC_OK;
}

int cli_run_machine_decommission(struct cli_args *a)
{
	const char *serial = cli_get(a, "serial");
	int rc;

	if (!cli_flag(a, "yes")) {
		log_error(MOD, "decommissioning '%s' revokes its certificate for good; add --yes to confirm", serial);
		return CC_ERR_INVALID;
	}
	rc = manage_machine_decommission(a->vault, serial);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:b, s:b}", "serial", serial, "decommissioned", 1, "revoked", 1));
	printf("decommissioned %s: certificate revoked, data kept until the customer's erasure\n", serial);
	return CC_OK;
}

static int user_active(struct cli_args *a, int active)
{
	int rc = manage_user_set_active(a->vault, cli_get(a, "login"), active);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:b}", "login", cli_get(a, "login"), "active", active));
	printf("%s %s\n", active ? "activated" : "deactivated", cli_get(a, "login"));
	return CC_OK;
}

int cli_run_user_deactivate(struct cli_args *a) { return user_active(a, 0); }
int cli_run_user_activate(struct cli_args *a) { return user_active(a, 1); }
