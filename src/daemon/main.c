/*
 * main.c - `coffeecloudd`: the daemon. Reads its configuration, binds its
 * listeners, leaves root, opens the data directory, and runs the event loop
 * until SIGTERM/SIGINT, when it commits and acknowledges what it accepted.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/ssl.h>

#include "alerts/alerts.h"
#include "alerts/notices.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "daemon/config.h"
#include "daemon/loop_thread.h"
#include "daemon/mqtt_server.h"
#include "daemon/privdrop.h"
#include "daemon/tls.h"
#include "daemon/retention.h"
#include "daemon/writer.h"
#include "fleet/inventory.h"
#include "fleet/rollouts.h"
#include "api/api.h"
#include "http/server.h"
#include "notify/deliver.h"
#include "ops/endpoint.h"
#include "ops/metrics.h"
#include "web/assets.h"
#include "vault/vault.h"

#define MOD "daemon"

struct options {
	const char *data_dir;
	const char *config_file;
	const char *master_key_file;
	int check_config;
	int daemonize;
	int print_reference;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: coffeecloudd --data DIR [--config FILE] [--master-key-file F]\n"
	           "                    [--check-config] [--daemon] [--config-reference] [--version]\n\n"
	           "Runs the CoffeeCloud daemon in the foreground (logs to stderr) until SIGTERM.\n"
	           "--check-config validates the configuration and the data directory, then exits.\n"
	           "--daemon detaches from the terminal once its listeners are bound (logs then go\n"
	           "nowhere: prefer a service manager such as systemd, which runs it in the\n"
	           "foreground).\n"
	           "Settings: docs/CONFIG.md (or --config-reference).\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--version") == 0) {
			printf("coffeecloudd %s\n", CC_VERSION);
			exit(0);
		} else if (strcmp(a, "--check-config") == 0) {
			o->check_config = 1;
		} else if (strcmp(a, "--daemon") == 0) {
			o->daemonize = 1;
		} else if (strcmp(a, "--config-reference") == 0) {
			o->print_reference = 1;
		} else if (i + 1 < argc && strcmp(a, "--data") == 0) {
			o->data_dir = argv[++i];
		} else if (i + 1 < argc && strcmp(a, "--config") == 0) {
			o->config_file = argv[++i];
		} else if (i + 1 < argc && strcmp(a, "--master-key-file") == 0) {
			o->master_key_file = argv[++i];
		} else {
			fprintf(stderr, "coffeecloudd: unknown or incomplete option '%s'\n", a);
			usage(stderr);
			return CC_ERR_INVALID;
		}
	}
	if (!o->print_reference && o->data_dir == NULL) {
		fprintf(stderr, "coffeecloudd: --data DIR is required\n");
		return CC_ERR_INVALID;
	}
	return CC_OK;
}

static enum log_level level_of(const char *name)
{
	if (strcmp(name, "error") == 0)
		return LOG_LEVEL_ERROR;
	if (strcmp(name, "warn") == 0)
		return LOG_LEVEL_WARN;
	if (strcmp(name, "debug") == 0)
		return LOG_LEVEL_DEBUG;
	return LOG_LEVEL_INFO;
}

/*
 * The event loops' side of erasure: every fleet_poll_ms the fleet version
 * (bumped by every erasure, among other fleet changes) is read; when it
 * moved, the loop's vault forgets the data keys that left the keyring. Each
 * loop (the machines', the people's) watches for its own vault; the writer
 * thread does the same for its own (writer.h).
 */
struct erasure_watch {
	struct event *ev;
	struct vault *vault;
	const char *loop; /* "event loop", "people's loop": the log's name for it */
	char version[32];
};

static void watch_dropped(void *ctx, int64_t org_id)
{
	struct erasure_watch *w = ctx;

	log_info(MOD, "dropped the data key of organisation %lld from the %s's cache (erased)", (long long)org_id,
	         w->loop);
}

static void erasure_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct erasure_watch *w = arg;
	struct store *s = vault_store(w->vault);
	char version[32] = "0";
	int rc = s->ops->meta_get(s, INVENTORY_FLEET_VERSION, version, sizeof(version));

	(void)fd;
	(void)what;
	if ((rc != CC_OK && rc != CC_ERR_NOTFOUND) || strcmp(version, w->version) == 0)
		return;
	if (vault_keys_refresh(w->vault, watch_dropped, w) >= 0)
		snprintf(w->version, sizeof(w->version), "%s", version);
}

static int erasure_watch_start(struct event_base *base, struct vault *v, const char *loop, int64_t poll_ms,
                               struct erasure_watch **out)
{
	struct timeval every = { (time_t)(poll_ms / 1000), (suseconds_t)((poll_ms % 1000) * 1000) };
	struct erasure_watch *w = calloc(1, sizeof(*w));
	struct store *s = vault_store(v);

	if (w == NULL)
		return CC_ERR_NOMEM;
	w->vault = v;
	w->loop = loop;
	if (s->ops->meta_get(s, INVENTORY_FLEET_VERSION, w->version, sizeof(w->version)) != CC_OK)
		snprintf(w->version, sizeof(w->version), "0");
	w->ev = event_new(base, -1, EV_PERSIST, erasure_watch_cb, w);
	if (w->ev == NULL || event_add(w->ev, &every) != 0) {
		if (w->ev != NULL)
			event_free(w->ev);
		free(w);
		return CC_ERR_NOMEM;
	}
	*out = w;
	return CC_OK;
}

static void erasure_watch_free(struct erasure_watch *w)
{
	if (w == NULL)
		return;
	event_free(w->ev);
	free(w);
}

/*
 * SIGHUP: what can change live does (docs/CONFIG.md says which settings):
 * the configuration file is read again and its log settings applied, and
 * the listeners' certificate and key are read again (a rotated certificate:
 * `coffeecloud ca rotate-server`) for the connections accepted from
 * now on; open connections keep theirs. Anything that fails to load keeps
 * what runs.
 */
struct reload {
	const char *config_file;
	struct vault *vault;
	struct mqtt_server *srv;
	struct http_server *https;
	struct api *api;
	struct loop_thread *people; /* where https lives */
	const struct config *cfg;
	SSL_CTX **tls, **https_tls;
};

/* The HTTPS listener's new context, handed over on the people's thread,
 * which is the only one that reads the old one (for each connection it
 * accepts) and so the only one that may free it. */
struct tls_handover {
	struct reload *r;
	SSL_CTX *fresh;
};

static void hand_over_https_tls(void *arg)
{
	struct tls_handover *h = arg;

	http_server_attach(h->r->https, h->fresh, h->r->api);
	SSL_CTX_free(*h->r->https_tls);
	*h->r->https_tls = h->fresh;
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct reload *r = arg;
	struct config fresh;
	SSL_CTX *tls = NULL, *https_tls = NULL;

	(void)sig;
	(void)what;
	config_defaults(&fresh);
	if (r->config_file != NULL && (config_load_file(&fresh, r->config_file) != CC_OK ||
	                               config_validate(&fresh) != CC_OK)) {
		log_warn(MOD, "SIGHUP: the configuration file does not load: nothing reloaded");
		return;
	}
	log_set_level(level_of(fresh.log_level));
	log_set_json(strcmp(fresh.log_format, "json") == 0);
	if (vault_keys_refresh(r->vault, NULL, NULL) < 0 ||
	    tls_server_ctx(r->vault, r->cfg->mqtt_tls12, 1, &tls) != CC_OK ||
	    tls_server_ctx(r->vault, r->cfg->https_tls12, 0, &https_tls) != CC_OK) {
		SSL_CTX_free(tls);
		log_warn(MOD, "SIGHUP: the server certificate and key do not load: the current ones stay");
		return;
	}
	mqtt_server_set_tls(r->srv, tls);
	SSL_CTX_free(*r->tls);
	*r->tls = tls;
	if (r->https != NULL) {
		struct tls_handover h = { r, https_tls };

		loop_thread_call(r->people, hand_over_https_tls, &h);
	} else {
		SSL_CTX_free(*r->https_tls);
		*r->https_tls = https_tls;
	}
	log_info(MOD, "SIGHUP: reloaded the log settings and the server certificate (new connections get it)");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info(MOD, "signal %d: shutting down", (int)sig);
	metrics_set_ready(0);
	mqtt_server_shutdown(arg);
}

int main(int argc, char **argv)
{
	struct options o;
	struct config cfg;
	struct event_base *base = NULL, *people_base = NULL;
	struct loop_thread *people = NULL;
	struct mqtt_server *srv = NULL;
	struct http_server *https = NULL, *http_plain = NULL;
	struct api *api = NULL;
	struct ops_endpoint *ops = NULL;
	SSL_CTX *https_tls = NULL;
	struct vault *vault = NULL, *people_vault = NULL;
	struct writer *writer = NULL;
	struct retention *retention = NULL;
	struct erasure_watch *watch = NULL, *people_watch = NULL;
	struct notify_delivery *notify = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	struct reload reload;
	SSL_CTX *tls = NULL;
	int rc;

	umask(077);
	log_set_timestamps(1);
	privdrop_no_dumps();
	if (parse_options(argc, argv, &o) != CC_OK)
		return 2;
	if (o.print_reference) {
		config_print_reference();
		return 0;
	}
	config_defaults(&cfg);
	rc = o.config_file ? config_load_file(&cfg, o.config_file) : CC_OK;
	if (rc == CC_OK)
		rc = config_validate(&cfg);
	if (rc != CC_OK)
		return 2;
	log_set_level(level_of(cfg.log_level));
	log_set_json(strcmp(cfg.log_format, "json") == 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN); /* until the reload handler is in place: a reload never kills */

	/* Two loops: the machines' on this thread, the people's (HTTPS, the API)
	 * on a thread of its own (loop_thread.h). */
	if (evthread_use_pthreads() != 0 || (base = event_base_new()) == NULL ||
	    (people_base = event_base_new()) == NULL) {
		log_error(MOD, "cannot start the event loop");
		return 1;
	}
	/* Listeners first, in case a port below 1024 needs root; then leave root. */
	if (!o.check_config) {
		rc = mqtt_server_bind(base, &cfg, &srv);
		if (rc == CC_OK && cfg.https_listen[0] != '\0') {
			struct http_server_opts ho = { cfg.https_listen, 1, api_routes(), (int)cfg.https_timeout_s, api_guard, web_serve };

			rc = http_server_new(people_base, &ho, &https);
		}
		if (rc == CC_OK && cfg.https_plain_listen[0] != '\0') {
			struct http_server_opts ho = { cfg.https_plain_listen, 0, api_routes(), (int)cfg.https_timeout_s, api_guard, web_serve };

			rc = http_server_new(people_base, &ho, &http_plain);
		}
		if (rc == CC_OK && cfg.metrics_listen[0] != '\0')
			rc = ops_endpoint_new(base, cfg.metrics_listen, &ops);
		if (rc != CC_OK)
			goto out;
	}
	rc = privdrop_to(cfg.user, o.data_dir);
	/* Before the first thread starts and the first database connection
	 * opens: a child keeps only the thread that forked, and none of the
	 * parent's file locks. */
	if (rc == CC_OK && o.daemonize && !o.check_config && daemon(0, 0) != 0) {
		log_error(MOD, "cannot become a daemon");
		rc = CC_ERR_IO;
	}
	if (rc == CC_OK)
		rc = vault_open(o.data_dir, o.master_key_file, &vault);
	if (rc == CC_OK && vault_master_key_inside(vault))
		log_warn(MOD, "the master key is inside the data directory: a copy of the directory decrypts "
		         "everything; keep it elsewhere (--master-key-file, CC_MASTER_KEY_FILE or a systemd "
		         "credential: README, \"Keys\")");
	if (rc == CC_OK)
		rc = tls_server_ctx(vault, cfg.mqtt_tls12, TLS_CLIENT_REQUIRED, &tls);
	if (rc == CC_OK)
		rc = tls_server_ctx(vault, cfg.https_tls12, TLS_CLIENT_OPTIONAL, &https_tls);
	if (rc != CC_OK || o.check_config) {
		if (o.check_config && rc == CC_OK)
			printf("configuration and data directory ok\n");
		goto out;
	}
	alerts_configure(cfg.alerts, cfg.alerts_tick_ms);
	rollouts_configure(cfg.rollouts_tick_ms);
	alerts_set_sink(alerts_notices_to_outbox, NULL);
	rc = writer_start(o.data_dir, o.master_key_file, (size_t)cfg.commit_max_batch, cfg.fleet_poll_ms,
	                  mqtt_server_wake, srv, &writer);
	if (rc == CC_OK)
		rc = erasure_watch_start(base, vault, "event loop", cfg.fleet_poll_ms, &watch);
	if (rc == CC_OK) {
		struct retention_policy rp = { { cfg.retention_telemetry_days, cfg.retention_events_days,
		                                 cfg.retention_reports_days, cfg.retention_rollups_days,
		                                 cfg.retention_tickets_days },
		                               cfg.retention_sweep_s * 1000, (size_t)cfg.retention_batch_rows,
		                               cfg.diagnostics_retention_days };

		rc = retention_start(o.data_dir, o.master_key_file, &rp, &retention);
	}
	if (rc == CC_OK) {
		writer_set_gather(writer, cfg.commit_gather_us);
		writer_set_backlog(writer, (uint64_t)cfg.inbox_backlog_max);
		rc = mqtt_server_start(srv, tls, vault, writer);
	}
	if (rc == CC_OK && (https != NULL || http_plain != NULL)) {
		struct api_opts ao = { cfg.totp_required_for_admins, cfg.api_session_ttl_s, "CoffeeCloud",
		                       cfg.mqtt_listen[0] ? tls_describe(tls) : NULL,
		                       cfg.https_listen[0] ? tls_describe(https_tls) : NULL, cfg.purposes,
		                       { cfg.retention_telemetry_days, cfg.retention_events_days,
		                         cfg.retention_reports_days, cfg.retention_rollups_days,
		                         cfg.retention_tickets_days },
		                       cfg.webhook_allow_private, cfg.diagnostics_max_bytes,
		                       cfg.diagnostics_retention_days, cfg.downloads_max, o.data_dir,
		                       o.master_key_file };

		rc = vault_open(o.data_dir, o.master_key_file, &people_vault);
		if (rc == CC_OK)
			rc = erasure_watch_start(people_base, people_vault, "people's loop", cfg.fleet_poll_ms,
			                         &people_watch);
		if (rc == CC_OK)
			rc = api_new(people_base, people_vault, &ao, &api);
		json_decref(ao.machines_tls);
		json_decref(ao.people_tls);
	}
	if (rc == CC_OK) {
		struct notify_delivery_opts no = { cfg.webhook_allow_private, cfg.webhook_ca_file, cfg.webhook_timeout_s,
		                                   cfg.webhook_retry_window_s, cfg.webhook_retry_base_ms,
		                                   cfg.webhook_disable_after, cfg.notify_poll_ms, cfg.smtp_url,
		                                   cfg.smtp_from, cfg.smtp_credentials_file, cfg.smtp_ca_file };

		rc = notify_delivery_start(base, vault, &no, &notify);
	}
	if (rc != CC_OK)
		goto out;
	if (https != NULL)
		http_server_attach(https, https_tls, api);
	if (http_plain != NULL)
		http_server_attach(http_plain, NULL, api);
	metrics_http_routes(api_routes());
	if (ops != NULL)
		ops_endpoint_attach(ops, vault, o.data_dir);
	sigterm = evsignal_new(base, SIGTERM, on_signal, srv);
	sigint = evsignal_new(base, SIGINT, on_signal, srv);
	rc = loop_thread_start(people_base, "cc-people", &people);
	if (rc != CC_OK)
		goto out;
	reload = (struct reload){ o.config_file, vault, srv, https, api, people, &cfg, &tls, &https_tls };
	sighup = evsignal_new(base, SIGHUP, on_reload, &reload);
	if (sighup == NULL || event_add(sighup, NULL) != 0) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0) {
		rc = CC_ERR_NOMEM;
		goto out;
	}
	metrics_set_ready(1);
	log_info(MOD, "ready");
	event_base_dispatch(base);
	log_info(MOD, "stopped");
out:
	/* Connections go first (their offline state is queued), then the writer
	 * commits everything queued, then the rest. The people's loop stops
	 * first: what it holds is freed here, on this thread, once it is gone. */
	loop_thread_stop(people);
	http_server_free(https);
	http_server_free(http_plain);
	ops_endpoint_free(ops);
	api_free(api);
	erasure_watch_free(people_watch);
	vault_close(people_vault);
	notify_delivery_free(notify);
	mqtt_server_drop_connections(srv);
	retention_stop(retention);
	writer_stop(writer);
	erasure_watch_free(watch);
	mqtt_server_free(srv);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (sighup != NULL)
		event_free(sighup);
	SSL_CTX_free(tls);
	SSL_CTX_free(https_tls);
	vault_close(vault);
	if (people_base != NULL)
		event_base_free(people_base);
	if (base != NULL)
		event_base_free(base);
	libevent_global_shutdown();
	return rc == CC_OK ? 0 : 1;
}
