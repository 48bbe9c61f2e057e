/*
 * agent.c - the cc_agent: its configuration, trusted keys, allocator, and
 * the storage and clock callbacks wrapped for the other modules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "agent/internal.h"
#include "common/err.h"

void *cc_ag_malloc(cc_agent *a, size_t n)
{
	return a->cfg.alloc.malloc != NULL ? a->cfg.alloc.malloc(a->cfg.alloc.ud, n) : malloc(n);
}

void *cc_ag_realloc(cc_agent *a, void *p, size_t n)
{
	return a->cfg.alloc.realloc != NULL ? a->cfg.alloc.realloc(a->cfg.alloc.ud, p, n) : realloc(p, n);
}

void cc_ag_free(cc_agent *a, void *p)
{
	if (p == NULL)
		return;
	if (a->cfg.alloc.free != NULL)
		a->cfg.alloc.free(a->cfg.alloc.ud, p);
	else
		free(p);
}

void cc_ag_log(cc_agent *a, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (a->cfg.on_log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	a->cfg.on_log(a->cfg.ud, line);
}

int64_t cc_ag_now_ms(cc_agent *a)
{
	return a->cfg.clock.now_ms(a->cfg.clock.ud);
}

/* The storage callbacks are called one at a time: a worker (agent_async.c)
 * and the MQTT loop may both be at it. */
int cc_ag_get(cc_agent *a, const char *key, char *buf, size_t cap)
{
	size_t n = 0;
	pthread_mutex_lock(&a->store_lock);
	int rc = a->cfg.storage.get(a->cfg.storage.ud, key, buf, cap - 1, &n);
	pthread_mutex_unlock(&a->store_lock);
	if (rc != 0)
		return rc > 0 ? 1 : CC_AGENT_ESTORAGE;
	if (n >= cap)
		return CC_AGENT_ESTORAGE;
	buf[n] = '\0';
	return 0;
}

int cc_ag_put(cc_agent *a, const char *key, const char *value)
{
	pthread_mutex_lock(&a->store_lock);
	int rc = a->cfg.storage.put(a->cfg.storage.ud, key, value, strlen(value));
	pthread_mutex_unlock(&a->store_lock);
	return rc == 0 ? 0 : CC_AGENT_ESTORAGE;
}

int cc_ag_del(cc_agent *a, const char *key)
{
	pthread_mutex_lock(&a->store_lock);
	int rc = a->cfg.storage.del(a->cfg.storage.ud, key);
	pthread_mutex_unlock(&a->store_lock);
	return rc == 0 ? 0 : CC_AGENT_ESTORAGE;
}

int cc_ag_get_u64(cc_agent *a, const char *key, uint64_t *v)
{
	char buf[32], *end;
	int rc = cc_ag_get(a, key, buf, sizeof(buf));

	*v = 0;
	if (rc == 1)
		return 0;
	if (rc < 0)
		return rc;
	unsigned long long x = strtoull(buf, &end, 10);
	if (end == buf || *end != '\0')
		return CC_AGENT_ESTORAGE;
	*v = x;
	return 0;
}

int cc_ag_put_u64(cc_agent *a, const char *key, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return cc_ag_put(a, key, buf);
}

static int copy(char *dst, size_t cap, const char *src, int required)
{
	if (src == NULL)
		return required ? -1 : (dst[0] = '\0', 0);
	size_t n = strlen(src);
	if (n >= cap || (required && n == 0))
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static int keys(cc_agent *a, const char *const *pem, size_t n, int revoked, struct update_key **out,
                size_t *nout)
{
	if (n == 0)
		return 0;
	struct update_key *k = cc_ag_realloc(a, *out, (*nout + n) * sizeof(*k));
	if (k == NULL)
		return CC_AGENT_ENOMEM;
	*out = k;
	for (size_t i = 0; i < n; i++) {
		size_t j;
		if (pem[i] == NULL || ed25519_public_from_pem(pem[i], strlen(pem[i]), k[*nout].pub) != CC_OK)
			return CC_AGENT_EINVAL;
		/* A key listed as trusted and as revoked is revoked: the verifier
		 * takes the first entry with a key's id, so there must be one. */
		for (j = 0; j < *nout && memcmp(k[j].pub, k[*nout].pub, ED25519_PUBLIC_LEN) != 0; j++)
			;
		if (j < *nout) {
			k[j].revoked |= revoked;
			continue;
		}
		k[*nout].revoked = revoked;
		(*nout)++;
	}
	return 0;
}

int cc_agent_new(const struct cc_agent_config *cfg, cc_agent **out)
{
	cc_agent *a;
	int rc;

	*out = NULL;
	if (cfg == NULL || cfg->storage.get == NULL || cfg->storage.put == NULL || cfg->storage.del == NULL ||
	    cfg->clock.now_ms == NULL)
		return CC_AGENT_EINVAL;
	a = cfg->alloc.malloc != NULL ? cfg->alloc.malloc(cfg->alloc.ud, sizeof(*a)) : malloc(sizeof(*a));
	if (a == NULL)
		return CC_AGENT_ENOMEM;
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	if (pthread_mutex_init(&a->store_lock, NULL) != 0) {
		cfg->alloc.free != NULL ? cfg->alloc.free(cfg->alloc.ud, a) : free(a);
		return CC_AGENT_ENOMEM;
	}
	if (copy(a->serial, sizeof(a->serial), cfg->serial, 1) || copy(a->model, sizeof(a->model), cfg->model, 1) ||
	    copy(a->factory, sizeof(a->factory), cfg->factory_version, 1) ||
	    !update_version_valid(a->factory) || copy(a->url, sizeof(a->url), cfg->server_url, 0) ||
	    copy(a->mqtt_host, sizeof(a->mqtt_host), cfg->mqtt_host, 0) ||
	    copy(a->ca, sizeof(a->ca), cfg->ca_file, 1) || copy(a->cert, sizeof(a->cert), cfg->cert_file, 0) ||
	    copy(a->key, sizeof(a->key), cfg->key_file, 0) || (a->cert[0] == '\0') != (a->key[0] == '\0') ||
	    strpbrk(a->serial, "/+#") != NULL || cfg->renew_before_days < 0 || cfg->window > CC_AG_WINDOW_MAX ||
	    (cfg->mqtt_version != 0 && cfg->mqtt_version != CC_AGENT_MQTT_5 && cfg->mqtt_version != CC_AGENT_MQTT_311)) {
		cc_agent_free(a);
		return CC_AGENT_EINVAL;
	}
	a->cfg.serial = a->serial;
	a->cfg.model = a->model;
	a->cfg.factory_version = a->factory;
	a->cfg.server_url = a->url;
	a->cfg.mqtt_host = a->mqtt_host[0] != '\0' ? a->mqtt_host : NULL;
	a->cfg.ca_file = a->ca;
	a->cfg.cert_file = a->cert;
	a->cfg.key_file = a->key;
	a->cfg.release_keys = a->cfg.revoked_keys = a->cfg.server_keys = NULL;
	if (a->cfg.queue_max == 0)
		a->cfg.queue_max = 1000;
	a->window = cfg->window != 0 ? cfg->window : CC_AG_WINDOW;
	if ((rc = keys(a, cfg->release_keys, cfg->nrelease_keys, 0, &a->release, &a->nrelease)) != 0 ||
	    (rc = keys(a, cfg->revoked_keys, cfg->nrevoked_keys, 1, &a->release, &a->nrelease)) != 0 ||
	    (rc = keys(a, cfg->server_keys, cfg->nserver_keys, 0, &a->server, &a->nserver)) != 0) {
		cc_agent_free(a);
		return rc;
	}
	if ((rc = cc_ag_cred_load(a)) != 0) {
		cc_agent_free(a);
		return rc;
	}
	*out = a;
	return CC_AGENT_OK;
}

void cc_agent_free(cc_agent *a)
{
	if (a == NULL)
		return;
	if (a->working)
		pthread_join(a->worker, NULL); /* its work is finished first: a cut mid-step is a power cut */
	if (a->mosq != NULL)
		mosquitto_destroy(a->mosq);
	cc_ag_http_close(a);
	cc_ag_cred_free(a);
	cc_ag_mconf_free(a);
	cc_ag_free(a, a->release);
	cc_ag_free(a, a->server);
	pthread_mutex_destroy(&a->store_lock);
	cc_ag_free(a, a);
}

int cc_agent_installed_version(cc_agent *a, char *buf, size_t cap)
{
	char v[CC_UPDATE_VERSION_MAX + 1];
	int rc = cc_ag_get(a, "installed", v, sizeof(v));

	if (rc < 0)
		return rc;
	if (rc == 1)
		snprintf(v, sizeof(v), "%s", a->factory);
	else if (!update_version_valid(v))
		return CC_AGENT_ESTORAGE; /* never fall back to a lower floor */
	if (strlen(v) >= cap)
		return CC_AGENT_EINVAL;
	memcpy(buf, v, strlen(v) + 1);
	return CC_AGENT_OK;
}

const char *cc_agent_strerror(int rc)
{
	switch (rc) {
	case CC_AGENT_OK: return "ok";
	case CC_AGENT_NO_UPDATE: return "no update offered";
	case CC_AGENT_REBOOT: return "installed: reboot";
	case CC_AGENT_PENDING: return "in progress";
	case CC_AGENT_ENOMEM: return "out of memory";
	case CC_AGENT_EINVAL: return "invalid argument";
	case CC_AGENT_ENET: return "server unreachable";
	case CC_AGENT_EREFUSED: return "update refused";
	case CC_AGENT_ESTORAGE: return "storage failed";
	case CC_AGENT_EFIRMWARE: return "firmware callback failed";
	case CC_AGENT_ESTATE: return "not possible now";
	default: return "unknown";
	}
}
