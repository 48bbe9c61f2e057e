/*
 * privacy.h - the privacy filter of docs/PRODUCT.md §2.1 "Machine data only".
 *
 * Finds personal and financial data in what a machine sends, so that ingest
 * can refuse the message before anything is stored or logged. The filter is
 * pure: no allocation, no mutable global state (the financial-key detector
 * derives two small lookup tables from its word lists once), no logging (it must never be the
 * place where the content of a refused message leaks), bounded stack
 * (recursion depth PRIVACY_DEPTH_MAX). Safe to call from any thread.
 *
 * Detectors and the policy behind them (docs/METRICS.md has the measured
 * recall and false-positive figures):
 *
 * CARD NUMBERS - 13 to 19 digits passing the Luhn check, whatever the network
 *   (the filter does not require a known issuer prefix: docs/PRODUCT.md §2.1 defines a card
 *   number by length and Luhn only, and failing closed is the point).
 *   - In text (string values, object keys, raw payloads): a "run" is a
 *     maximal sequence of digits in which consecutive digits are separated by
 *     at most one space or dash ("4111 1111-1111 1111"). The separators split
 *     a run into groups. Candidates are (a) every sequence of consecutive
 *     whole groups holding 13..19 digits in total, and (b) inside a single
 *     group of more than 19 digits, every 13..19-digit window. (a) finds a
 *     card written next to other digits ("ref 12 4111 1111 1111 1111"),
 *     (b) one glued to other digits ("20261128411111111111111"). Any
 *     candidate passing Luhn is a card number, whatever the key, except a
 *     sequence of two or more groups whose first group is an 8-digit date
 *     19000101..20991231 ("build 20261128-1432 2.14.3"; no issuer prefix
 *     starts with 19 or 20).
 *   - SPLIT (privacy.c, card_split_scan): digit groups of 3 or more digits
 *     separated by 1..3 bytes that are neither letters nor digits, or by one
 *     ASCII letter ("4111.1111.1111.1111", "4111--1111--1111--1111",
 *     "4111a1111b1111c1111"): every sequence of 3 or more whole groups with
 *     13..19 digits passing Luhn (its last group may have 1 or 2 digits),
 *     unless its first group is an 8-digit date (a build stamp) or its
 *     groups are dotted groups of <= 3 digits each <= 255 (an IPv4 address
 *     with a port). Not found: groups of 1 or 2 digits, two groups only.
 *   - ENCODED: every token of the base64 alphabets (standard and URL-safe,
 *     padding optional) of 18 or more characters is decoded at each of its
 *     four alignments, and every all-hex token of 26 or more at both of its
 *     alignments; the decoded bytes go through the text and split rules.
 *   - JSON integers: the magnitude, when it has 13..19 digits.
 *   - JSON reals: the integer part of the magnitude when it is >= 10^12.
 *     A real >= 2^53 cannot hold 16+ digits exactly, so its digits are
 *     unknowable: reals in [2^53, 10^19) are refused as card numbers (fail
 *     closed). No catalogue metric comes near these magnitudes.
 *   - The one exemption: an INTEGER that is the value of the "ts" member of
 *     the TOP-LEVEL object and lies in the epoch-millisecond window
 *     [PRIVACY_EPOCH_MS_MIN, PRIVACY_EPOCH_MS_MAX) (2000-01-01 ..
 *     2096-10-02). Why: every message carries a 13-digit millisecond
 *     timestamp, and one in ten of them passes Luhn; without the exemption
 *     ingest would refuse 10% of all traffic. It lets no real card through:
 *     the window holds 12-digit values (before 2001-09-09), then 13-digit
 *     numbers starting with 1, 2 or 3, and 13-digit card numbers are Visa (prefix 4) and Maestro
 *     (prefixes 50, 56..69); the window ends before the Visa prefix 4
 *     begins (4 x 10^12 ms). message_check narrows ts further to
 *     [2020-01-01, now + 1 day]. There is no exemption for "seq": ingest
 *     bounds it to 1..INGEST_SEQ_MAX (12 digits), so no seq is a card
 *     candidate and a 13..19-digit seq passing Luhn is refused as a card
 *     number like any other number. A millisecond timestamp anywhere else (a
 *     string, a nested field) is NOT exempt; the catalogue therefore carries
 *     no timestamps as metric values.
 *
 * E-MAIL ADDRESSES - local@domain.tld anywhere in a string or key: at least
 *   one local-part character before the '@', then two or more dot-separated
 *   labels whose last one (the TLD) is >= 2 letters (or "xn--" punycode, or
 *   UTF-8), or a bracketed domain literal.
 *
 * PHONE NUMBERS - in strings and keys (a JSON number is never treated as a
 *   phone number: without '+' or a leading 0 it cannot be told from a
 *   counter). A candidate starts at a token boundary (not after a letter,
 *   digit, '_', '.', and not after a '-' or '/' that follows a letter or
 *   digit: "CM-0171123456" is a serial) and is a sequence of digit groups
 *   separated by single ' ', '-', '.', '/' or a parenthesised group. It is a
 *   phone number when any leading part of it is:
 *   - international: '+' then 7..15 digits, the first non-zero;
 *   - "00" + country code, two or more groups, 10..15 digits;
 *   - national with trunk prefix: first group 0[1-9] plus 0..3 digits, two or
 *     more groups, 8..12 digits ("030 1234567", "0171-1234567",
 *     "(030) 1234567"), separators ' ', '-', '/' (or '.', with four or more
 *     groups: "01.23.45.67.89"), and not a dd-mm-yyyy date;
 *   - North American: [1 ]ddd ddd dddd with ' ', '-' or '.', or "(ddd) ddd-dddd";
 *   - an unseparated 0[1-9] number of 10 or 11 digits ("01711234567").
 *   Plain version strings ("2.14.3", "1.4.0+20261128") and serials
 *   ("CM-0001234") do not match.
 *
 * FINANCIAL KEYS - any object key at any depth (values are not judged: a
 *   brew event's product "espresso" is not financial, its price would be).
 *   The key is split into word parts at '_', '-', '.', spaces, camelCase
 *   humps and letter/digit changes ("unitPriceEUR" -> unit, price, eur).
 *   Long, unambiguous stems match anywhere in the key, case-insensitively
 *   ("price", "revenue", "payment", "amount", "currency", "invoice",
 *   "turnover", "credit", "debit", "refund", "discount", ...). Short words
 *   ("tip", "tax", "vat", "fee", "cost", "cash", "coin", "card", "iban",
 *   "bic", "sales", "wage", "eur", "usd", ...) match only a whole word part,
 *   so "tipping_point", "cardinality" and "percent" are not financial while
 *   "tip_total", "salesTotal" and "card" are. The full lists are in
 *   privacy.c and docs/METRICS.md. "amount" is on the list even though
 *   coffee recipes speak of a "grounds amount": the catalogue names such
 *   quantities by unit (grams, ml) instead.
 */
#ifndef CC_INGEST_PRIVACY_H
#define CC_INGEST_PRIVACY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Deepest JSON nesting privacy_scan_json inspects (the top level is depth 1).
 * message_check refuses anything deeper than INGEST_DEPTH_MAX (16) first. */
#define PRIVACY_DEPTH_MAX 32

/* The epoch-millisecond window of the ts exemption: [2000-01-01, 2096-10-02),
 * below the first 13-digit Visa number (prefix 4). */
#define PRIVACY_EPOCH_MS_MIN INT64_C(946684800000)
#define PRIVACY_EPOCH_MS_MAX INT64_C(4000000000000)

enum privacy_reason {
	PRIVACY_NONE = 0,
	PRIVACY_CARD_NUMBER,
	PRIVACY_EMAIL,
	PRIVACY_PHONE,
	PRIVACY_FINANCIAL_KEY,
	/* The document nests deeper than PRIVACY_DEPTH_MAX, so it was not fully
	 * inspected: treat it as refused (fail closed). message_check never
	 * reports it, because it refuses such nesting before scanning. */
	PRIVACY_UNSCANNABLE,
	/* Only from privacy_scan_note (free text people write): */
	PRIVACY_BIRTH_DATE,
	PRIVACY_ADDRESS,
	PRIVACY_PERSON_NAME,
};

/* "none", "card-number", "email", "phone", "financial", "unscannable",
 * "birth-date", "address", "person-name";
 * "unknown" for values outside the enum. Never NULL, static storage. */
const char *privacy_reason_name(enum privacy_reason r);

/* Scans a parsed JSON document: every object key (text detectors and the
 * financial-key detector) and every string and number value, at any depth up
 * to PRIVACY_DEPTH_MAX. Returns the first reason found (document order; within
 * one string: card, then e-mail, then phone) or PRIVACY_NONE. doc NULL ->
 * PRIVACY_NONE. */
enum privacy_reason privacy_scan_json(const json_t *doc);

/* The pieces of privacy_scan_json, for a caller that walks a document
 * itself (message.c, over the tokens of ingest/jscan.h) and must reach the
 * same verdict: visit every object key with privacy_scan_key, then its
 * value - unless the key is a member of the top-level object and
 * privacy_ts_exempt says its integer value is exempt - strings with
 * privacy_scan_text, integers with privacy_scan_integer, reals with
 * privacy_scan_real; the first reason in document order is the verdict.
 * privacy_scan_key: the text detectors, then the financial-key detector. */
enum privacy_reason privacy_scan_key(const char *key, size_t klen);
enum privacy_reason privacy_scan_integer(int64_t n);
enum privacy_reason privacy_scan_real(double v);
/* 1 if key is "ts" and n lies in [PRIVACY_EPOCH_MS_MIN, PRIVACY_EPOCH_MS_MAX). */
int privacy_ts_exempt(const char *key, size_t klen, int64_t n);

/* The card, e-mail and phone detectors over raw bytes (any bytes, NUL
 * included; s may be NULL when len is 0). No exemption applies. */
enum privacy_reason privacy_scan_text(const char *s, size_t len);

/* For a payload that did not decode as JSON (malformed, too deep, invalid
 * UTF-8): privacy_scan_text, plus the two rules of privacy_scan_json that can
 * be applied to raw text: a bare integer token that follows "ts": and lies
 * in the epoch-ms window is exempt from the card detector, and a
 * quoted string followed by ':' is judged as an object key by the financial
 * detector. Heuristic by nature: it exists so that a broken message carrying
 * a card number is still counted as a privacy refusal. */
enum privacy_reason privacy_scan_json_text(const char *s, size_t len);

/* The longest text privacy_scan_note judges; longer is PRIVACY_UNSCANNABLE. */
#define PRIVACY_NOTE_SCAN_MAX 4096

/* The stricter filter for the short notes people write (service reports):
 * privacy_scan_text, then, in this order:
 *   EMAIL        obfuscated addresses: "at" written as " at ", "(at)",
 *                "[at]", "{at}", "<at>" or " @ ", "dot" as " dot ", "(dot)",
 *                "[dot]", "{dot}", "<dot>" (also "punkt", "point"), then the
 *                e-mail rule with a common top-level domain (com, org, net,
 *                de, at, ...: "carl at example dot com", "carl(at)example(dot)com");
 *   PHONE        spaced digits: 5 or more groups of at most 3 digits, 7 or
 *                more digits in all, separated by 1..3 of " .-/()"
 *                ("0 3 0 1 2 3 4 5 6 7", "+49 1 7 1 ...");
 *   BIRTH_DATE   a date (y-m-d, d.m.y, d/m/y, d-m-y, with two- or
 *                four-digit years, or "12 April 1980", "April 12, 1980")
 *                within 24 bytes after a birth word (born, birth, birthday,
 *                dob, d.o.b., b., geb., geboren, Geburtsdatum, né, née,
 *                nacido, nato, szül.), or any full date before 2010 (a
 *                report's own date is `performed`; machine history in notes
 *                is recent);
 *   ADDRESS      a street word (street, st., road, rd., avenue, ave., lane,
 *                boulevard, blvd., square, terrace, straße, strasse, str.,
 *                gasse, allee, platz, weg, rue, calle, avenida, piazza, straat,
 *                laan, plein, út, utca, tér, ulica, ul.; and words ending in
 *                -straße, -strasse, -str., -gasse, -allee, -weg, -straat,
 *                -laan) with a house number
 *                (1..5 digits, one optional letter) up to 3 words before it or
 *                2 after it ("12 Main Street", "Hauptstraße 5", "Váci út 12");
 *   PERSON_NAME  a title (Mr, Mrs, Ms, Miss, Dr., Herr, Frau, Hr., Fr.,
 *                Monsieur, Madame, Mme, Señor, Señora, Sr., Sra., Signor,
 *                Signora) or "name is" / "name:" / "named" followed by a
 *                capitalised word.
 * What it misses is listed in docs/METRICS.md (names without a title, a
 * house number written as a word, addresses without a street word...). */
enum privacy_reason privacy_scan_note(const char *s, size_t len);

/* 1 if key (len bytes) names a financial field by the rule above, else 0.
 * Exposed for tests and for the catalogue's self-check. */
int privacy_key_is_financial(const char *key, size_t len);

/* 1 if the len decimal digits at d (ASCII '0'..'9') pass the Luhn check. */
int privacy_luhn_valid(const char *d, size_t len);

#endif
