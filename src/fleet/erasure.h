/*
 * erasure.h - deleting a customer, with a signed deletion receipt.
 *
 * The deletion itself is inventory_customer_delete (certificates revoked,
 * rows deleted, data key destroyed: crypto-shredding). The receipt says
 * what was deleted, when and by whom, as canonical JSON (sorted keys, no
 * spaces) signed with ECDSA P-256 / SHA-256 by the server key, whose
 * certificate (DIR/server.crt, issued by the fleet CA) anyone can verify
 * the signature with:
 *   openssl dgst -sha256 -verify <(openssl x509 -in server.crt -pubkey -noout)
 *                -signature receipt.sig receipt.json
 */
#ifndef CC_FLEET_ERASURE_H
#define CC_FLEET_ERASURE_H

#include "vault/vault.h"

/* Deletes the customer and returns the receipt document
 * {"receipt": {...}, "signature": base64 DER, "algorithm": ..., "signed_by": ...}
 * as malloc'd JSON text in *receipt (caller frees). */
int erasure_delete_customer(struct vault *v, const char *customer, const char *deleted_by, char **receipt);

#endif
