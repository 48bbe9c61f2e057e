/*
 * commands.h - messages to machines: a fixed allow-list, no remote shell.
 *
 * A command is stored (body sealed under the customer's key) until the
 * machine acknowledges it; the daemon delivers it with QoS 1 on
 * cc/v1/{serial}/cmd/{name}/{id} whenever the machine is subscribed, across
 * reconnects and restarts, until its job ends it (jobs.h). Adding one bumps the store's "commands-version",
 * which the daemon polls.
 */
#ifndef CC_FLEET_COMMANDS_H
#define CC_FLEET_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "vault/vault.h"

#define COMMANDS_VERSION "commands-version"
#define COMMAND_BODY_MAX 2048

/* 1 if name is an allowed command: update-offer, diagnostics, config. */
int commands_name_allowed(const char *name);

/* The body as sent: a JSON object (NULL: {}) in compact form, at most
 * COMMAND_BODY_MAX bytes; *text is the caller's to free. */
int commands_body(const char *body, char **text);

/* Seals text for machine m and adds the command to the store, inside the
 * caller's transaction (jobs.h makes them: one per target of a job). */
int commands_add(struct vault *v, const struct store_machine *m, const char *name, const char *text,
                 int64_t created_ms, int64_t job_id, int64_t deadline_ms, int64_t *id);

/* Pending commands of a machine, opened: each(ctx, id, name, body_json). */
int commands_pending(struct vault *v, const struct store_machine *m,
                     int (*each)(void *ctx, int64_t id, const char *name, const char *body), void *ctx);

#endif
