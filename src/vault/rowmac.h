/*
 * rowmac.h - the integrity MACs of the rows that decide access; private to
 * src/vault/ (the public face is vault.h: vault_store, vault_rows_check).
 *
 * The vault hands out a store that wraps the backend's: the same ops, except
 * that rows of orgs, machines, users, grants and credentials are sealed with
 * an HMAC-SHA-256 when written and checked when read. A row that does not
 * verify is not there (lookups: CC_ERR_NOTFOUND; lists: skipped), is logged
 * (table and id, nothing else) and audited once per process. See
 * docs/ARCHITECTURE.md, "Integrity of access rows", for the MAC's input.
 */
#ifndef CC_VAULT_ROWMAC_H
#define CC_VAULT_ROWMAC_H

#include "store/store.h"
#include "vault/vault.h"

#define ROWMAC_KEY_NAME "row-key"
#define ROWMAC_META "row-macs"

/* Wraps *store (the backend's, now owned by the wrapper) and loads the row
 * key; when the keyring has none yet (a data directory made before row
 * MACs, or a new one), makes it and seals every row that has no MAC: the
 * one trust-on-first-open step. */
int rowmac_attach(struct vault *v, struct store **store);

/* Verifies every MAC'd row through the wrapper; logs each bad row (table and
 * id) and counts them in *bad. */
int rowmac_check_all(struct store *s, int *bad);

#endif
