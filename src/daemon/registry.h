/*
 * registry.h - the machines the daemon knows, in memory, for the event loop.
 *
 * Loaded from the store at start and reloaded whenever the store's
 * "fleet-version" changes (machines added, revoked, deleted), which
 * registry_poll checks cheaply. Lookups are by serial (binary search over a
 * sorted array). Owned and used by the event-loop thread only.
 */
#ifndef CC_DAEMON_REGISTRY_H
#define CC_DAEMON_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "store/store.h"

struct registry_entry {
	int64_t id;
	int64_t customer_id;
	char serial[CC_SERIAL_MAX + 1];
	char model[CC_NAME_MAX + 1];
	char cert_fingerprint[65];
	char prev_cert_fingerprint[65]; /* a renewed machine's previous certificate; "" */
	int64_t prev_cert_until_ms;     /* accepted until then (fleet/provision.h) */
	int revoked;
};

struct registry;

int registry_new(struct store *s, struct registry **out);
void registry_free(struct registry *r);

/* Reloads if the fleet changed. *changed is set to 1 when it did. */
int registry_poll(struct registry *r, int *changed);

/* The entry for serial, or NULL. Valid until the next registry_poll. */
const struct registry_entry *registry_find(const struct registry *r, const char *serial);

size_t registry_count(const struct registry *r);

/* 1 if a TLS client certificate of this fingerprint is the machine's:
 * its current one, or the previous one during a renewal's overlap. */
int registry_cert_ok(const struct registry_entry *e, const char *fingerprint);

#endif
