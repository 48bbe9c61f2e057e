/*
 * seal.h - what the notify files share: the associated data a notification
 * body is sealed with (its organisation, destination, time and message id,
 * so a body copied to another row does not open).
 */
#ifndef CC_NOTIFY_SEAL_H
#define CC_NOTIFY_SEAL_H

#include "store/store.h"
#include "vault/vault.h"

void notify_body_ad(struct seal_ad *ad, const struct store_notification *n);

#endif
