/*
 * mail.h - a notification as an e-mail: multipart/alternative, plain text
 * and HTML, in the reader's language (en, hu), from a small table of
 * strings per kind. It names the machine, site and alert it is about and
 * nothing personal except the recipient's address.
 */
#ifndef CC_NOTIFY_MAIL_H
#define CC_NOTIFY_MAIL_H

#include <stddef.h>
#include <stdint.h>

/* 1 for an address safe to put in a header and an SMTP command: one @,
 * printable ASCII, no spaces, angle brackets, quotes, commas or semicolons. */
int mail_address_ok(const char *addr);

/*
 * The whole message (RFC 5322 head + MIME body, CRLF line ends) for one
 * notification: body is its webhook JSON ({"type", "timestamp", "data"}).
 * *out is malloc'd and NUL-terminated. msg_id makes the Message-ID.
 */
int mail_compose(const char *from, const char *to, const char *language, const char *msg_id, const char *body,
                 int64_t now_ms, char **out, size_t *len);

#endif
