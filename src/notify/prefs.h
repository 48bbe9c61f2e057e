/*
 * prefs.h - a person's choice of notification e-mails: on or off, which
 * kinds, which sites, quiet hours in their time zone (e-mails falling in
 * them wait until they end; nothing is dropped), and the language (en, hu).
 * A person who chose nothing gets every kind, in English, at any hour.
 */
#ifndef CC_NOTIFY_PREFS_H
#define CC_NOTIFY_PREFS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "vault/vault.h"

/* The person's preferences, or the defaults when they chose nothing. */
int notify_prefs_get(struct vault *v, int64_t user_id, struct store_notify_prefs *out);

/* Applies the fields of a JSON object (email: bool, kinds / sites: arrays
 * of strings, quiet: "HH:MM-HH:MM" or "", tz: IANA name, language: en|hu)
 * over p, checked; CC_ERR_INVALID with the reason in why. */
int notify_prefs_apply(struct store_notify_prefs *p, const json_t *changes, char *why, size_t cap);

int notify_prefs_set(struct vault *v, const struct store_notify_prefs *p);

/* The preferences as the API and the CLI show them. */
json_t *notify_prefs_json(const struct store_notify_prefs *p);

/* 1 when a notification of kind about site ("" none) is for this person. */
int notify_prefs_want(const struct store_notify_prefs *p, const char *kind, const char *site);

/* 0 outside quiet hours at now_ms, else when they end (ms since the epoch). */
int64_t notify_quiet_until(const struct store_notify_prefs *p, int64_t now_ms);

#endif
