/*
 * limits.h - every size limit of CoffeeCloud, in one place.
 *
 * Inputs are bounded by these before they are copied or parsed. Change a
 * limit here, never at the point of use.
 */
#ifndef CC_COMMON_LIMITS_H
#define CC_COMMON_LIMITS_H

/* Machine serial: [A-Za-z0-9._-], this many bytes at most (also the X.509 CN). */
#define CC_SERIAL_MAX 64
/* Slugs naming organisations, sites, groups, models and user logins. */
#define CC_NAME_MAX 64
/* Free-text personal fields (display name, e-mail) of a user account. */
#define CC_PERSONAL_FIELD_MAX 256
/* A site's postal address (a business's place; clear, checked by the privacy filter). */
#define CC_SITE_ADDRESS_MAX 200
/* A tz database zone name ("Europe/Berlin"). */
#define CC_TIMEZONE_MAX 64
#define CC_SITE_HOURS_MAX 160 /* business hours as written (fleet/hours.h) */
/* A dynamic group's filter, canonical JSON. */
#define CC_GROUP_FILTER_MAX 512
/* A user's personal fields as sealed in the store (JSON of the fields + AEAD). */
#define CC_SEALED_PROFILE_MAX 1024
/* An encoded Argon2id password hash (PHC string format). */
#define CC_PASSWORD_HASH_MAX 160
/* A TOTP secret as sealed in the store (20 bytes + AEAD). */
#define CC_SEALED_TOTP_MAX 128
/* A service or installation report (JSON) as submitted, before sealing. */
#define CC_REPORT_MAX 16384
/* The retained `info` message of a machine, sealed. */
#define CC_SEALED_INFO_MAX 512
/* A command's body (JSON) as sealed in the store. */
#define CC_COMMAND_SEALED_MAX 4096
/* A privacy policy version: its text and its list of purposes. */
#define CC_POLICY_TEXT_MAX 65536   /* a version: facts + prose in every language, JSON */
#define CC_CONTROLLER_FIELD_MAX 256 /* the data controller's name, address, contact */
#define CC_POLICY_CLAUSE_MAX 4096   /* the prose of one clause in one language */
#define CC_POLICY_PURPOSES_MAX 255
/* A PEM certificate as stored for a machine. */
#define CC_CERT_PEM_MAX 4096
/* The largest file we ever read whole: keyring, certificates, CSRs. */
#define CC_SMALL_FILE_MAX (1024 * 1024)
/* A sealed payload (telemetry or event body) before sealing. */
#define CC_PAYLOAD_MAX (64 * 1024)
/* A telemetry roll-up (src/records/rollup.h) as sealed: count, min, max
 * and sum for every metric one machine reported in a minute or an hour
 * (a message carries at most 256 metrics, each named in 64 bytes). */
#define CC_ROLLUP_SEALED_MAX (64 * 1024)
/* Organisation tree depth (manufacturer -> distributor -> ... -> customer). */
#define CC_ORG_DEPTH_MAX 8
/* Subject alternative names on the server certificate. */
#define CC_SAN_MAX 16
/* Sign-in throttling (access/throttle.h): entries kept for (login, source)
 * pairs, for logins, and for pairs that signed in; the oldest goes first. */
#define CC_SIGNIN_PAIRS_MAX 4096
#define CC_SIGNIN_LOGINS_MAX 4096
#define CC_SIGNIN_TRUSTED_MAX 1024
/* Rows returned by one list call of the store. */
#define CC_LIST_MAX 100000

/* The open-ACL test listener's in-memory broker (src/mqtt/broker.h): it
 * never touches the store, and everything it holds is bounded. */
#define CC_BROKER_SESSIONS_MAX 1024        /* sessions, connected or kept */
#define CC_BROKER_SUBS_MAX 64              /* subscriptions per session */
#define CC_BROKER_QUEUE_MAX 1000           /* messages queued or in flight per session */
#define CC_BROKER_RETAINED_MAX 1024        /* retained messages */
#define CC_BROKER_BYTES_MAX (64 * 1024 * 1024) /* message bytes held in all */
#define CC_BROKER_CLIENT_ID_MAX 256        /* client identifier, bytes */
#define CC_BROKER_SUB_IDS_MAX 8            /* subscription identifiers on one delivery */

/* Software updates (src/update/update.h): signed artifact metadata and offers. */
#define CC_UPDATE_DOC_MAX 32768         /* a signed metadata or offer document, bytes (notes escaped) */
#define CC_UPDATE_VERSION_MAX 64        /* a semantic version */
#define CC_UPDATE_MODELS_MAX 16         /* models one artifact fits */
#define CC_UPDATE_NOTES_MAX 4096        /* release notes, bytes */
#define CC_UPDATE_ARTIFACT_MAX (1024LL * 1024 * 1024) /* an artifact file, bytes */

#endif
