#include "alerts/notices.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "notify/outbox.h"

int alerts_notices_to_outbox(void *ctx, struct vault *v, const struct alert_notice *n)
{
	struct store *s = vault_store(v);
	const struct store_alert *a = n->alert;
	struct store_machine m;
	struct store_site site;
	const char *kind = strcmp(n->what, "resolved") == 0 ? NOTIFY_KIND_ALERT_RESOLVED
	                   : strcmp(n->what, "escalated") == 0 ? NOTIFY_KIND_ALERT_ESCALATED
	                                                       : NOTIFY_KIND_ALERT_OPENED;
	char title[64], opened[40], resolved[40];
	int64_t org;
	json_t *data;
	size_t i;
	int rc;

	(void)ctx;
	if (n->n_orgs == 0)
		return CC_OK;
	/* The rule's name for people: offline_long -> "offline long". */
	snprintf(title, sizeof(title), "%s", a->rule);
	for (i = 0; title[i] != '\0'; i++)
		if (title[i] == '_')
			title[i] = ' ';
	site.name[0] = '\0';
	if (s->ops->machine_get(s, a->machine_id, &m) == CC_OK && m.site_id != 0 &&
	    s->ops->site_get(s, m.site_id, &site) != CC_OK)
		site.name[0] = '\0';
	clock_format_iso(a->opened_ms, opened, sizeof(opened));
	clock_format_iso(a->resolved_ms, resolved, sizeof(resolved));
	data = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "alert_id", (json_int_t)a->id, "serial",
	                 n->serial, "site", site.name, "rule", a->rule, "severity", a->severity, "title", title,
	                 "level", (json_int_t)a->level, "opened_at", opened);
	if (data == NULL)
		return CC_ERR_NOMEM;
	if (a->resolved_ms != 0)
		json_object_set_new(data, "resolved_at", json_string(resolved));
	org = strcmp(n->what, "escalated") == 0 ? n->org_ids[n->n_orgs - 1] : n->org_ids[0];
	rc = notify_enqueue(v, org, kind, data, NULL);
	json_decref(data);
	return rc;
}
