/*
 * inventory.h - the fleet's structure: organisations, sites, groups and
 * machines with their certificates.
 *
 * Each call is one store transaction: it either happens whole or leaves the
 * data directory as it was (clear error logged, negative code returned).
 * Names are slugs: 1..CC_NAME_MAX bytes of [A-Za-z0-9._-], starting with a
 * letter or digit. Serials: 1..CC_SERIAL_MAX bytes of [A-Za-z0-9._-]; they
 * become the certificate CN and an MQTT topic level, so `+ # /`, NUL,
 * spaces and control characters are refused.
 *
 * The organisation tree: one manufacturer at the root; distributors under
 * the manufacturer or another distributor; customers under either. Machines,
 * sites and groups belong to customers.
 */
#ifndef CC_FLEET_INVENTORY_H
#define CC_FLEET_INVENTORY_H

#include <stdint.h>

#include "store/store.h"
#include "vault/vault.h"

/* The meta key bumped whenever machines are added, revoked or deleted; the
 * daemon polls it to refresh its registry and cut revoked machines off. */
#define INVENTORY_FLEET_VERSION "fleet-version"

/* 1 if the text is a valid slug / serial: the charset and length of
 * limits.h, and nothing the privacy filter's text detectors flag (a card
 * number plain, split or encoded; a phone number): these are clear columns. */
int inventory_name_valid(const char *name);
int inventory_serial_valid(const char *serial);

/* Adds an organisation under parent (NULL only for the root manufacturer)
 * and creates its data key. */
int inventory_org_add(struct vault *v, const char *name, enum org_kind kind, const char *parent,
                      struct store_org *out);

/* Finds an organisation by name, logging a clear error when absent. */
int inventory_org_find(struct vault *v, const char *name, struct store_org *out);

int inventory_site_add(struct vault *v, const char *customer, const char *name, struct store_site *out);
int inventory_group_add(struct vault *v, const char *customer, const char *name, const char *parent,
                        struct store_group *out);

/* What provisioning a machine hands to it. */
struct machine_bundle {
	char *cert_pem; /* free() */
	char *key_pem;  /* NULL when a CSR was signed; else wiped by inventory_bundle_free */
	char *ca_pem;   /* free() */
	struct store_machine machine;
};

/* Frees the strings of a bundle (wiping the key). Accepts NULL. */

/* Registers a machine of customer (at site, may be NULL) and issues its
 * certificate, signing csr_pem when given. deliver (may be NULL) is called
 * with the bundle before the transaction commits: when it fails, nothing is
 * registered. The bundle is freed before returning. */
int inventory_machine_add(struct vault *v, const char *serial, const char *model,
                          const char *customer, const char *site, const char *csr_pem,
                          int (*deliver)(void *ctx, const struct machine_bundle *b), void *ctx);
/* The same, valid days (0: the data directory's default, provision_days). */
int inventory_machine_add_days(struct vault *v, const char *serial, const char *model,
                               const char *customer, const char *site, const char *csr_pem, int days,
                               int (*deliver)(void *ctx, const struct machine_bundle *b), void *ctx);
void inventory_bundle_free(struct machine_bundle *b);

/* Revokes a machine's certificate and rewrites the CRL (DIR/ca.crl). */
int inventory_machine_revoke(struct vault *v, const char *serial);

/* Finds a machine by serial, logging a clear error when absent. */
int inventory_machine_find(struct vault *v, const char *serial, struct store_machine *out);

/* Deletes a customer: revokes its machines' certificates, deletes every row
 * that belongs to it and destroys its data key (crypto-shredding). */
int inventory_customer_delete(struct vault *v, const char *customer);

/* 1 if org_id is org itself or one of its ancestors: the organisation tree
 * scope rule. Any failure answers 0 (access fails closed). */
int inventory_org_contains(struct store *s, int64_t ancestor_id, int64_t org_id);

/* Writes the CRL of all revoked certificates to DIR/ca.crl. */
int inventory_write_crl(struct vault *v);

#endif
