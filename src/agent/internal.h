/*
 * internal.h - what the agent's modules share (never installed): the
 * cc_agent itself, its allocator, storage and clock wrappers, HTTPS and
 * JSON helpers. Cross-module names start with cc_ag_.
 */
#ifndef CC_AGENT_INTERNAL_H
#define CC_AGENT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "coffeecloud/agent.h"
#include "update/update.h"

#define CC_AG_PATH_MAX 512
#define CC_AG_VALUE_MAX 4096
#define CC_AG_MSG_MAX 4000 /* a stored message: fits one storage value */
#define CC_AG_WINDOW 16    /* stored messages sent before the first is acknowledged (default) */
#define CC_AG_WINDOW_MAX 64

#include <pthread.h>

struct mosquitto;

struct cc_agent {
	struct cc_agent_config cfg; /* the strings below replace cfg's pointers */
	char serial[CC_SERIAL_MAX + 1], model[CC_NAME_MAX + 1], factory[CC_UPDATE_VERSION_MAX + 1];
	char url[CC_AG_PATH_MAX], mqtt_host[256];
	char ca[CC_AG_PATH_MAX], cert[CC_AG_PATH_MAX], key[CC_AG_PATH_MAX];
	struct update_key *release, *server;
	size_t nrelease, nserver;
	void *curl; /* agent_http.c: a CURL easy handle, its connection kept */

	/* MQTT (agent_mqtt.c) */
	struct mosquitto *mosq;
	int connected, connecting;
	int external, tcp_up;  /* driven by cc_agent_loop_* (agent_mqtt.c); the socket connected */
	int64_t connect_started_ms;
	size_t window;         /* cfg.window, bounded */
	struct {               /* stored messages on their way: at most window */
		int mid, acked;
		uint64_t idx, seq;
	} flight[CC_AG_WINDOW_MAX];
	size_t nflight;
	uint64_t qnext;        /* the next stored message to send */
	int64_t next_connect_ms, backoff_ms;
	char info[512];
	uint64_t sent, refused, last_seq, connect_failures;
	int qloaded;
	uint64_t qhead, qtail, qdropped, qmax; /* the store-and-forward ring, mirrored from storage */

	/* The key and certificate in use (agent_cert.c), PEM, and a renewal. */
	char *key_pem, *cert_pem;
	uint64_t cred_gen;          /* 0: the configuration's files */
	int64_t not_after_ms;
	char fingerprint[65];
	struct evp_pkey_st *pending; /* the new key waiting for its certificate */
	int renewing, renew_asked, reconnect, csr_mid;
	int64_t renew_next_ms;      /* monotonic */

	struct cc_ag_mconf *mconf;  /* remote configuration (agent_config.c); NULL: not set up */
	/* The worker of cc_agent_work_begin (agent_async.c). Storage calls are
	 * serialised by store_lock: the worker and the MQTT loop share it. */
	pthread_mutex_t store_lock;
	pthread_t worker;
	int working;                /* a worker was started and not yet joined */
	volatile int worker_done;   /* set by the worker as its last act (under store_lock) */
	int work_op, work_rc;
	struct cc_update_result work_res;
};

/* Monotonic milliseconds (agent_mqtt.c). */
int64_t cc_ag_mono_ms(void);

void *cc_ag_malloc(cc_agent *a, size_t n);
void *cc_ag_realloc(cc_agent *a, void *p, size_t n);
void cc_ag_free(cc_agent *a, void *p);
void cc_ag_log(cc_agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t cc_ag_now_ms(cc_agent *a);

/* Storage of short text records (NUL-terminated on get): 0, 1 absent, <0. */
int cc_ag_get(cc_agent *a, const char *key, char *buf, size_t cap);
int cc_ag_put(cc_agent *a, const char *key, const char *value);
int cc_ag_del(cc_agent *a, const char *key);
int cc_ag_get_u64(cc_agent *a, const char *key, uint64_t *v); /* absent: 0 */
int cc_ag_put_u64(cc_agent *a, const char *key, uint64_t v);

/* HTTPS with the machine certificate (agent_http.c). status is the HTTP
 * status; CC_AGENT_ENET when no answer came. */
int cc_ag_http_get(cc_agent *a, const char *path, char **body, size_t *len, size_t max, long *status);
int cc_ag_http_post(cc_agent *a, const char *path, const char *json, long *status);
/* Sink of a download: returns n, or 0 to stop the transfer. */
typedef size_t (*cc_ag_sink)(void *ctx, const void *p, size_t n, long status, uint64_t range_start);
void cc_ag_http_close(cc_agent *a);
/* Asks for bytes from..to; what comes is the sink's to judge (a server may
 * send more, or the whole file with 200). */
int cc_ag_http_download(cc_agent *a, const char *path, uint64_t from, uint64_t to, cc_ag_sink sink,
                        void *ctx, long *status);

/* The key and certificate (agent_cert.c). load: the newest whole stored
 * pair, else the configuration's files, else none (enrolment to come). */
int cc_ag_cred_load(cc_agent *a);
void cc_ag_cred_free(cc_agent *a);
/* An SSL_CTX (void *: OpenSSL's) presenting the pair in use, verifying
 * the server against the fleet CA and its name (mqtt_host); NULL: none. */
void *cc_ag_cred_ssl_ctx(cc_agent *a);
/* 1 with a CSR for a new key in csr when a renewal is due (asked for, or
 * the certificate within renew_before_days of its end; at most one an hour). */
int cc_ag_cred_due(cc_agent *a, int64_t mono_ms, char *csr, size_t cap);
/* The certificate of cc/v1/{serial}/cert/issued: for the new key, the
 * machine and the fleet CA, it becomes the pair in use (reconnect set). */
int cc_ag_cred_issued(cc_agent *a, const void *payload, size_t len);

/* Remote configuration (agent_config.c): the config command (1: handled
 * here, 0: not set up, the firmware's on_command has it), the report at
 * each connection, the state freed. */
int cc_ag_mconf_command(cc_agent *a, uint64_t id, const char *body, size_t len);
void cc_ag_mconf_connected(cc_agent *a);
void cc_ag_mconf_free(cc_agent *a);

/* JSON (agent_json.c). Reads one JSON object of at most 16 levels; for each
 * names[i] present with a string value, out[i] gets it decoded (allocated
 * with a's allocator, NUL-terminated; NULL when absent). Other members are
 * checked and skipped. CC_AGENT_EINVAL for anything else: a duplicate
 * member, a wanted one that is not a string, bytes after the object. */
int cc_ag_json_strings(cc_agent *a, const char *doc, size_t len, const char *const *names, char **out,
                       size_t n);
/* Appends s as a JSON string (quoted) into buf; 0, or -1 when it does not fit. */
int cc_ag_json_quote(const char *s, char *buf, size_t cap);

#endif
