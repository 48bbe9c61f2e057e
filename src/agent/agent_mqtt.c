#include <string.h>
#include "agent/internal.h"
int cc_agent_publish_telemetry(cc_agent *a, const char *fields) { (void)a; (void)fields; return CC_AGENT_ESTATE; }
int cc_agent_publish_event(cc_agent *a, const char *fields) { (void)a; (void)fields; return CC_AGENT_ESTATE; }
int cc_agent_set_info(cc_agent *a, const char *hw, const char *sw) { (void)a; (void)hw; (void)sw; return 0; }
int cc_agent_command_result(cc_agent *a, uint64_t id, const char *state, const char *reason) { (void)a; (void)id; (void)state; (void)reason; return CC_AGENT_ESTATE; }
int cc_agent_run(cc_agent *a, int timeout_ms) { (void)a; (void)timeout_ms; return 0; }
void cc_agent_stats(cc_agent *a, struct cc_agent_stats *st) { (void)a; memset(st, 0, sizeof(*st)); }
