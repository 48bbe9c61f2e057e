/*
 * provision.h - machine certificates over their life: registering machines
 * in bulk (a factory line's CSV, an API batch), the validity of new
 * certificates, renewal with a CSR, and the certificate audit.
 *
 * A batch is all or nothing: every row is checked first (serial, model,
 * customer, site, duplicates in the batch and in the store, the CSR) and
 * each bad row is reported with its line, field and reason; only a batch
 * without one is issued and stored, in one transaction, with one bump of
 * the fleet version (adds do not rewrite the CRL). Names and serials are
 * checked as `machine add` checks them (inventory_name_valid,
 * inventory_serial_valid). A CSR must be what ca_issue_machine signs: EC
 * P-256, a valid self-signature, no CN other than the serial.
 *
 * Renewal replaces a machine's certificate; the one it replaces is still
 * accepted for PROVISION_OVERLAP_MS (or to its own expiry, if sooner), so a
 * machine that never received its new certificate can connect and ask
 * again. A later renewal ends the overlap of the one before.
 */
#ifndef CC_FLEET_PROVISION_H
#define CC_FLEET_PROVISION_H

#include <stddef.h>
#include <stdint.h>

#include "fleet/inventory.h"
#include "store/store.h"
#include "vault/vault.h"

/* Rows in one batch (one transaction). */
#define PROVISION_BATCH_MAX 10000
/* Validity of new machine certificates unless the data directory says
 * otherwise (meta PROVISION_DAYS_META, `machine cert-validity`). */
#define PROVISION_DEFAULT_DAYS 730
#define PROVISION_DAYS_META "machine-cert-days"
/* How long a renewed machine's previous certificate is still accepted. */
#define PROVISION_OVERLAP_MS (7LL * 24 * 3600 * 1000)
/* The issues a report keeps (the rest are counted). */
#define PROVISION_ISSUES_MAX 200

struct provision_row {
	long line;            /* its number in the caller's input (CSV line, array position) */
	const char *serial;
	const char *model;
	const char *customer;
	const char *site;     /* NULL: not placed at a site */
	const char *csr_pem;  /* NULL: a key is generated (refused when csr_required) */
};

struct provision_issue {
	long line;
	char field[16];
	char why[160];
};

struct provision_report {
	struct provision_issue issues[PROVISION_ISSUES_MAX];
	size_t n;       /* kept */
	size_t more;    /* not kept */
};

struct provision_opts {
	int days;             /* validity; 0: the data directory's default */
	int64_t scope_org_id; /* 0: any customer; else only customers in this subtree */
	int csr_required;     /* over the API: the server never makes a private key */
	/* The rows passed provision_check already: a batch does not verify each
	 * CSR's signature twice more (issuing verifies it once again anyway). */
	int csrs_checked;
	/* Called with each row's bundle (index into rows) before the batch
	 * commits; an error aborts the batch. May be NULL. */
	int (*deliver)(void *ctx, size_t i, const struct machine_bundle *b);
	/* Called once after the last deliver and before the commit (may be
	 * NULL): a caller that wrote files without syncing each syncs them here. */
	int (*delivered)(void *ctx);
	void *ctx;
};

/* Checks rows without writing anything: CC_OK, or CC_ERR_INVALID with
 * every issue in rep (a customer outside the scope reads as absent). */
int provision_check(struct vault *v, const struct provision_row *rows, size_t n,
                    const struct provision_opts *o, struct provision_report *rep);

/* Checks, issues and stores one batch (n <= PROVISION_BATCH_MAX): all rows
 * or none. CC_ERR_INVALID with rep filled for refused rows; CC_ERR_EXISTS
 * when a serial was taken meanwhile (in rep too). */
int provision_batch(struct vault *v, const struct provision_row *rows, size_t n,
                    const struct provision_opts *o, struct provision_report *rep);

/* The default validity in days of new machine certificates. */
int provision_days(struct vault *v, int *days);
int provision_days_set(struct vault *v, int days);

/* Renews serial's certificate from csr_pem (its key must differ from the
 * current one), valid days (0: the default). *why gets a short reason for a
 * refusal (CC_ERR_INVALID; CC_ERR_STATE for a revoked machine). On success
 * *cert_pem (free()) holds the new certificate and m the renewed row. */
int provision_renew(struct vault *v, const char *serial, const char *csr_pem, int days,
                    char **cert_pem, struct store_machine *m, const char **why);

/* The machine's own renewal over its live MQTT session (cc/v1/{serial}/cert/csr):
 * provision_renew with the default validity, at most one per machine per
 * PROVISION_MACHINE_RENEW_MS (judged by a renewed certificate's notBefore,
 * so reconnecting does not reset it), audited as
 * machine.renew by machine:SERIAL. csr: len bytes, not NUL-terminated. */
#define PROVISION_MACHINE_RENEW_MS (3600LL * 1000)
int provision_renew_by_machine(struct vault *v, const char *serial, const uint8_t *csr, size_t len,
                               char **cert_pem, const char **why);

/* 1 if fingerprint is one of m's accepted certificates at now_ms: the
 * current one, or the previous one within its overlap. Constant-time. */
int provision_cert_accepted(const char *current, const char *previous, int64_t previous_until_ms,
                            const char *fingerprint, int64_t now_ms);

/* The certificate audit: machines in scope (0: all) whose certificate
 * expires within expiring_ms of now_ms (revoked ones excluded), that are
 * revoked yet online by their live state, or that never connected. */
enum provision_finding { PROVISION_EXPIRING = 1, PROVISION_REVOKED_ONLINE = 2, PROVISION_NEVER_SEEN = 4 };
struct provision_cert_row {
	const struct store_machine *m; /* cert_pem empty */
	const char *customer;
	int findings;                  /* PROVISION_* bits */
};
int provision_cert_audit(struct vault *v, int64_t scope_org_id, int64_t now_ms, int64_t expiring_ms,
                         int (*each)(void *ctx, const struct provision_cert_row *row), void *ctx);

#endif
