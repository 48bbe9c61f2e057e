/*
 * acl.h - which topics a machine may publish and subscribe to (docs/METRICS.md "Message formats").
 *
 * Mode ACL_MACHINE (the default, and the only mode for TLS listeners):
 *   publish   cc/v1/{serial}/telemetry | event | info | status | cert/csr |
 *             config/reported (its configuration, fleet/machine_config.h), and
 *             cc/v1/{serial}/cmd/{id}/result (a command's result), nothing else;
 *   subscribe cc/v1/{serial}/cmd/# or a filter below it (cc/v1/{s}/cmd/x, .../+),
 *             and cc/v1/{serial}/cert/issued (a renewed certificate).
 * Mode ACL_OPEN (loopback test listeners only): any valid topic (but the
 * machine tree of other clients), any filter not starting with '$', for
 * generic MQTT conformance suites. Both fail closed.
 */
#ifndef CC_MQTT_ACL_H
#define CC_MQTT_ACL_H

#include <stddef.h>
#include <stdint.h>

enum acl_mode { ACL_MACHINE = 0, ACL_OPEN = 1 };

enum machine_topic {
	TOPIC_NONE = 0, /* not a machine data topic */
	TOPIC_TELEMETRY,
	TOPIC_EVENT,
	TOPIC_INFO,
	TOPIC_STATUS,
	TOPIC_RESULT, /* cc/v1/{serial}/cmd/{id}/result */
	TOPIC_CERT_CSR, /* a CSR for renewing its certificate (fleet/provision.h) */
	TOPIC_CONFIG_REPORTED, /* the configuration it runs (fleet/machine_config.h) */
};

/* 1 if serial may publish to topic; *kind says which machine topic it is
 * (TOPIC_NONE in open mode for topics outside the machine tree). */
int acl_may_publish(enum acl_mode mode, const char *serial, const uint8_t *topic, size_t len,
                    enum machine_topic *kind);

/* 1 if serial may subscribe to filter. */
int acl_may_subscribe(enum acl_mode mode, const char *serial, const uint8_t *filter, size_t len);

/* 1 if the filter is syntactically valid ('#' last and alone, '+' alone in its level). */
int acl_filter_valid(const uint8_t *filter, size_t len);

/* 1 if the topic name matches the filter (MQTT rules; '$' topics never match wildcards at level 1). */
int acl_topic_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen);

#endif
