/*
 * notify.h (store) - the rows behind notifications (src/notify/outbox.h):
 * an organisation's webhook endpoints, the outbox of notifications waiting
 * for a destination, and the log of every delivery attempt. Secrets and
 * bodies arrive sealed; the backend stores ciphertext and the clear columns
 * scheduling needs. Reached as s->ops->notify->x(s, ...).
 */
#ifndef CC_STORE_NOTIFY_H
#define CC_STORE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define STORE_WEBHOOK_URL_MAX 512
#define STORE_WEBHOOK_SECRET_MAX 128 /* sealed */
#define STORE_NOTIFY_BODY_MAX 8192   /* sealed */
#define STORE_NOTIFY_KIND_MAX 48
#define STORE_NOTIFY_MSGID_MAX 40

struct store_webhook {
	int64_t id;
	int64_t org_id;
	char url[STORE_WEBHOOK_URL_MAX + 1];
	uint8_t secret[STORE_WEBHOOK_SECRET_MAX];
	size_t secret_len;
	uint8_t prev_secret[STORE_WEBHOOK_SECRET_MAX]; /* valid until prev_until_ms */
	size_t prev_secret_len;
	int64_t prev_until_ms;
	int64_t created_ms;
	int64_t disabled_ms; /* 0: enabled */
	int64_t failures;    /* consecutive messages that failed */
};

enum store_notify_state { NOTIFY_PENDING = 0, NOTIFY_DELIVERED = 1, NOTIFY_FAILED = 2, NOTIFY_GONE = 3 };

struct store_notification {
	int64_t id;
	char msg_id[STORE_NOTIFY_MSGID_MAX + 1];
	int64_t org_id;
	int64_t webhook_id; /* one of the two destinations, the other 0 */
	int64_t user_id;
	char kind[STORE_NOTIFY_KIND_MAX + 1];
	int64_t created_ms;
	uint8_t body[STORE_NOTIFY_BODY_MAX];
	size_t body_len;
	int state;
	int64_t attempts;
	int64_t next_ms;
	int64_t last_status;
	int64_t done_ms;
};

struct store_notify_attempt {
	int64_t outbox_id;
	char msg_id[STORE_NOTIFY_MSGID_MAX + 1];
	int64_t attempt;
	int64_t at_ms;
	int64_t status;      /* HTTP status, 0 when none came back */
	int64_t duration_ms;
	char error[128];     /* what went wrong, never the answer's body */
};

#define STORE_NOTIFY_LIST_MAX 512

/* A person's e-mail preferences. */
struct store_notify_prefs {
	int64_t user_id;
	int email;                              /* 0: no e-mail at all */
	char kinds[STORE_NOTIFY_LIST_MAX + 1];  /* comma-separated kinds, "" every kind */
	char sites[STORE_NOTIFY_LIST_MAX + 1];  /* comma-separated site names, "" every site */
	char quiet[16];                         /* "HH:MM-HH:MM" in tz, "" none */
	char tz[64];                            /* IANA name */
	char language[8];                       /* en, hu */
};

struct store_notify_ops {
	/* CC_ERR_NOTFOUND when the person chose nothing yet. set replaces. */
	int (*prefs_get)(struct store *s, int64_t user_id, struct store_notify_prefs *out);
	int (*prefs_set)(struct store *s, const struct store_notify_prefs *p);

	int (*webhook_add)(struct store *s, const struct store_webhook *w, int64_t *id);
	/* CC_ERR_NOTFOUND for no such endpoint. */
	int (*webhook_get)(struct store *s, int64_t id, struct store_webhook *out);
	/* Of one organisation (org_id != 0) or all, by id. */
	int (*webhook_list)(struct store *s, int64_t org_id,
	                    int (*each)(void *ctx, const struct store_webhook *), void *ctx);
	/* Replaces the secret, keeping the previous one until prev_until_ms. */
	int (*webhook_set_secret)(struct store *s, int64_t id, const uint8_t *secret, size_t len,
	                          const uint8_t *prev, size_t prev_len, int64_t prev_until_ms);
	/* Counts a failed (failed != 0) or delivered message; *failures gets the
	 * count of consecutive failures after it. */
	int (*webhook_outcome)(struct store *s, int64_t id, int failed, int64_t *failures);
	/* at_ms 0 enables again (and clears the failure count). */
	int (*webhook_disable)(struct store *s, int64_t id, int64_t at_ms);
	/* Deletes the endpoint; its pending notifications become gone. */
	int (*webhook_remove)(struct store *s, int64_t id, int64_t at_ms);

	int (*outbox_add)(struct store *s, const struct store_notification *n, int64_t *id);
	/* Pending notifications due at now_ms with id > after_id, by id, at most max. */
	int (*outbox_due)(struct store *s, int64_t now_ms, int64_t after_id, size_t max,
	                  int (*each)(void *ctx, const struct store_notification *), void *ctx);
	/* Moves a pending notification's next attempt without one (quiet hours). */
	int (*outbox_defer)(struct store *s, int64_t id, int64_t next_ms);
	/* The earliest next_ms of a pending notification; CC_ERR_NOTFOUND for none. */
	int (*outbox_next_due)(struct store *s, int64_t *next_ms);
	/* Pending notifications, due or not (the metrics' webhook backlog). */
	int (*outbox_pending)(struct store *s, int64_t *count);
	/* Records one attempt and the state after it (in one transaction of its own
	 * when the caller has none): state PENDING with next_ms, or an end state. */
	int (*outbox_attempt)(struct store *s, const struct store_notify_attempt *a, int state, int64_t next_ms);
	/* Deletes notifications that ended (delivered, failed, gone) before
	 * before_ms, with their attempts; *deleted: how many. */
	int (*outbox_purge)(struct store *s, int64_t before_ms, int64_t *deleted);
	/* Notifications of one endpoint, newest first, at most max; each with its attempts. */
	int (*outbox_of_webhook)(struct store *s, int64_t webhook_id, size_t max,
	                         int (*each)(void *ctx, const struct store_notification *), void *ctx);
	int (*attempts_of)(struct store *s, int64_t outbox_id,
	                   int (*each)(void *ctx, const struct store_notify_attempt *), void *ctx);
};

#endif
