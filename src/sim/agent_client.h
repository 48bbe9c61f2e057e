/*
 * agent_client.h - the simulated machines built on libcoffeecloud-agent
 * (--agent): each machine a cc_agent, all of them driven from the calling
 * thread by the agent's external loop (one poll() over every machine's
 * socket, cc_agent_loop_read/write/misc), its updates by the agent's worker
 * (cc_agent_work_begin/poll, at most AGENT_CLIENT_WORKERS at once).
 *
 * What differs from client.h's machines is what the agent decides: the
 * agent numbers the messages (its persistent seq, started at seq_start),
 * stores them (in memory here: a machine's flash lasts one run) and sends
 * them in order over TLS with QoS 1; status, info and the will are the
 * agent's. The same fleet models (fleet.h) make the messages, the same
 * stats come out (struct client_stats), the same ack log and record.
 *
 * The machine's firmware is pretended: two slots in memory, an install
 * that fails for --fail-install VERSION or for an artifact whose payload
 * starts with AGENT_CLIENT_POISON, a reboot that boots the new slot and
 * has the agent confirm it (docs/SIMULATOR.md "Software updates").
 */
#ifndef CC_SIM_AGENT_CLIENT_H
#define CC_SIM_AGENT_CLIENT_H

#include <stddef.h>

#include "sim/client.h"

#define AGENT_CLIENT_WORKERS 16
#define AGENT_CLIENT_POISON "CCSIM-FAIL-INSTALL"
#define AGENT_CLIENT_FACTORY "4.2.1"

/* 1 for a --fault an agent can send: one whose message is well-formed
 * JSON on the machine's own topic with content the server must refuse (a
 * card number, an e-mail address, a phone number, a price, an unknown
 * metric). Bad JSON, another machine's topic and a pulled cable are sent
 * by client.h's raw machines. */
int agent_client_fault(enum fleet_fault f);

/* As client_run, for the options the agent supports (TLS, QoS 1, the
 * faults above: CC_ERR_INVALID otherwise). */
int agent_client_run(const struct client_opts *o, const char *const *serials, size_t n,
                     struct client_stats *st);

#endif
