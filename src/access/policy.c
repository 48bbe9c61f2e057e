#include "access/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/aead.h"

#define MOD "policy"

static int names(const char *list, const char *purpose)
{
	size_t n = strlen(purpose);
	const char *p = list;

	while ((p = strstr(p, purpose)) != NULL) {
		if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

struct latest {
	struct store_policy *out;
	int found;
};

static int keep_latest(void *arg, const struct store_policy *p)
{
	struct latest *l = arg;

	*l->out = *p;
	l->found = 1;
	return 0;
}

int policy_current(struct vault *v, struct store_policy *out)
{
	struct store *s = vault_store(v);
	struct latest l = { out, 0 };
	int rc = s->ops->policy_each(s, keep_latest, &l);

	if (rc == CC_OK && !l.found)
		rc = CC_ERR_NOTFOUND;
	return rc;
}

static int purposes_valid(const char *list)
{
	size_t i, len = strlen(list);

	if (len == 0 || len > CC_POLICY_PURPOSES_MAX || list[0] == ',' || list[len - 1] == ',')
		return 0;
	for (i = 0; i < len; i++)
		if (!((list[i] >= 'a' && list[i] <= 'z') || list[i] == '_' || (list[i] == ',' && list[i + 1] != ',')))
			return 0;
	return 1;
}

int policy_publish(struct vault *v, const char *text, const char *purposes, const char *last_updated,
                   int64_t *version)
{
	struct store *s = vault_store(v);
	struct store_policy *p;
	int rc;

	if (text == NULL || strlen(text) == 0 || strlen(text) > CC_POLICY_TEXT_MAX || purposes == NULL ||
	    !purposes_valid(purposes) || last_updated == NULL || strlen(last_updated) != 10) {
		log_error(MOD, "a policy needs a text (at most %d bytes), purposes (a,b,c) and a date YYYY-MM-DD",
		          CC_POLICY_TEXT_MAX);
		return CC_ERR_INVALID;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return CC_ERR_NOMEM;
	memcpy(p->text, text, strlen(text) + 1);
	memcpy(p->purposes, purposes, strlen(purposes) + 1);
	memcpy(p->last_updated, last_updated, 11);
	p->published_ms = clock_now_ms();
	rc = s->ops->policy_publish(s, p, version);
	free(p);
	return rc;
}

struct first {
	const char *purpose;
	int64_t version; /* the first that names the purpose; 0: none */
};

static int find_first(void *arg, const struct store_policy *p)
{
	struct first *f = arg;

	if (f->version == 0 && names(p->purposes, f->purpose))
		f->version = p->version;
	return 0;
}

int policy_allows(struct vault *v, int64_t customer_id, const char *purpose)
{
	struct store *s = vault_store(v);
	struct first f = { purpose, 0 };
	int64_t consented = 0;

	if (strcmp(purpose, "none") == 0 || strcmp(purpose, "administration") == 0)
		return 1;
	if (s->ops->policy_each(s, find_first, &f) != CC_OK || f.version == 0)
		return 0; /* fail closed */
	if (f.version == 1)
		return 1;
	if (s->ops->consent_latest(s, customer_id, &consented) != CC_OK)
		return 0;
	return consented >= f.version;
}

int policy_may_consent(const struct user_info *by, int64_t customer_id)
{
	return by->org_id == customer_id &&
	       (strcmp(by->role, "customer_manager") == 0 || strcmp(by->role, "admin") == 0);
}

int policy_consent(struct vault *v, int64_t customer_id, int64_t version, const char *login)
{
	struct store *s = vault_store(v);
	struct store_policy cur;
	struct user_info *by = malloc(sizeof(*by));
	char hash[CC_PASSWORD_HASH_MAX + 1];
	int rc = by != NULL ? users_find(v, login, by, hash, sizeof(hash)) : CC_ERR_NOMEM;

	if (rc == CC_OK && !policy_may_consent(by, customer_id)) {
		log_error(MOD, "a customer's consent is given by its own customer managers or admins, not by this account");
		rc = CC_ERR_PERM;
	}
	crypto_wipe(by, sizeof(*by));
	crypto_wipe(hash, sizeof(hash));
	free(by);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no such account");
	if (rc == CC_OK)
		rc = policy_current(v, &cur);
	if (rc != CC_OK)
		return rc;
	if (version < 1 || version > cur.version) {
		log_error(MOD, "there is no policy version %lld", (long long)version);
		return CC_ERR_NOTFOUND;
	}
	return s->ops->consent_add(s, customer_id, version, login, clock_now_ms());
}
