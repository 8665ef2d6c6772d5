// RC QP transition rules (see qp_state.h).
// Thread-safety: pure functions over constant tables.
#include "qp_state.h"

#include <cstdint>
#include <cstdio>

namespace softverbs {
namespace {

constexpr int kResetToInitRequired = IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
constexpr int kInitToInitOptional = IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
constexpr int kInitToRtrRequired = IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                                   IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
                                   IBV_QP_MIN_RNR_TIMER;
constexpr int kInitToRtrOptional = IBV_QP_ALT_PATH | IBV_QP_ACCESS_FLAGS | IBV_QP_PKEY_INDEX;
constexpr int kRtrToRtsRequired = IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
                                  IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC;
constexpr int kRtrToRtsOptional = IBV_QP_CUR_STATE | IBV_QP_ALT_PATH | IBV_QP_ACCESS_FLAGS |
                                  IBV_QP_MIN_RNR_TIMER | IBV_QP_PATH_MIG_STATE;
constexpr int kRtsToRtsOptional = IBV_QP_CUR_STATE | IBV_QP_ACCESS_FLAGS | IBV_QP_ALT_PATH |
                                  IBV_QP_PATH_MIG_STATE | IBV_QP_MIN_RNR_TIMER;
constexpr int kAccessBits = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
                            IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;
constexpr uint32_t kMaxRdAtomic = 16;

struct Rule {
  bool legal;
  int required;
  int optional;
};

Rule RuleFor(ibv_qp_state cur, ibv_qp_state next) {
  if (next == IBV_QPS_RESET || next == IBV_QPS_ERR) return {true, 0, 0};
  if (cur == IBV_QPS_RESET && next == IBV_QPS_INIT) return {true, kResetToInitRequired, 0};
  if (cur == IBV_QPS_INIT && next == IBV_QPS_INIT) return {true, 0, kInitToInitOptional};
  if (cur == IBV_QPS_INIT && next == IBV_QPS_RTR) {
    return {true, kInitToRtrRequired, kInitToRtrOptional};
  }
  if (cur == IBV_QPS_RTR && next == IBV_QPS_RTS) {
    return {true, kRtrToRtsRequired, kRtrToRtsOptional};
  }
  if (cur == IBV_QPS_RTS && next == IBV_QPS_RTS) return {true, 0, kRtsToRtsOptional};
  return {false, 0, 0};
}

std::string Hex(int value) {
  char buf[16];
  snprintf(buf, sizeof(buf), "0x%x", unsigned(value));
  return buf;
}

bool Fail(std::string* why, const std::string& text) {
  *why = text;
  return false;
}

bool CheckAv(const ibv_ah_attr& ah, const PortModel& port, std::string* why) {
  if (ah.port_num != 1) return Fail(why, "ah_attr.port_num must be 1");
  if (port.roce && !ah.is_global) return Fail(why, "a RoCE address vector needs a GRH (is_global)");
  if (port.grh_required && !ah.is_global) return Fail(why, "the port requires a GRH (IBV_QPF_GRH_REQUIRED)");
  if (!port.roce && (ah.dlid == 0 || ah.dlid >= 0xc000)) return Fail(why, "ah_attr.dlid is not a unicast LID");
  if (ah.sl > 15) return Fail(why, "ah_attr.sl > 15");
  if (ah.is_global && ah.grh.sgid_index >= port.gid_tbl_len) return Fail(why, "grh.sgid_index out of range");
  return true;
}

bool CheckValues(const ibv_qp_attr& a, int mask, const PortModel& port, std::string* why) {
  if ((mask & IBV_QP_PKEY_INDEX) && a.pkey_index >= port.pkey_tbl_len) {
    return Fail(why, "pkey_index past the P_Key table");
  }
  if ((mask & IBV_QP_PORT) && a.port_num != 1) return Fail(why, "port_num must be 1");
  if ((mask & IBV_QP_ACCESS_FLAGS) && (a.qp_access_flags & ~kAccessBits)) {
    return Fail(why, "unknown qp_access_flags bits");
  }
  if ((mask & IBV_QP_AV) && !CheckAv(a.ah_attr, port, why)) return false;
  if ((mask & IBV_QP_PATH_MTU) && (a.path_mtu < IBV_MTU_256 || a.path_mtu > IBV_MTU_4096)) {
    return Fail(why, "path_mtu out of range");
  }
  if ((mask & IBV_QP_DEST_QPN) && a.dest_qp_num >= (1u << 24)) return Fail(why, "dest_qp_num");
  if ((mask & IBV_QP_RQ_PSN) && a.rq_psn >= (1u << 24)) return Fail(why, "rq_psn > 24 bits");
  if ((mask & IBV_QP_SQ_PSN) && a.sq_psn >= (1u << 24)) return Fail(why, "sq_psn > 24 bits");
  if ((mask & IBV_QP_MAX_DEST_RD_ATOMIC) && a.max_dest_rd_atomic > kMaxRdAtomic) {
    return Fail(why, "max_dest_rd_atomic > device max_qp_rd_atom");
  }
  if ((mask & IBV_QP_MAX_QP_RD_ATOMIC) && a.max_rd_atomic > kMaxRdAtomic) {
    return Fail(why, "max_rd_atomic > device max_qp_init_rd_atom");
  }
  if ((mask & IBV_QP_MIN_RNR_TIMER) && a.min_rnr_timer > 31) return Fail(why, "min_rnr_timer");
  if ((mask & IBV_QP_TIMEOUT) && a.timeout > 31) return Fail(why, "timeout > 31");
  if ((mask & IBV_QP_RETRY_CNT) && a.retry_cnt > 7) return Fail(why, "retry_cnt > 7");
  if ((mask & IBV_QP_RNR_RETRY) && a.rnr_retry > 7) return Fail(why, "rnr_retry > 7");
  return true;
}

}  // namespace

int CheckModify(ibv_qp_state cur, const ibv_qp_attr& attr, int mask, std::string* why,
                const PortModel& port) {
  ibv_qp_state next = (mask & IBV_QP_STATE) ? attr.qp_state : cur;
  if ((mask & IBV_QP_CUR_STATE) && attr.cur_qp_state != cur) {
    *why = "cur_qp_state does not match the QP's state";
    return EINVAL;
  }
  Rule rule = RuleFor(cur, next);
  if (!rule.legal) {
    *why = std::string("illegal transition ") + QpStateName(cur) + " -> " + QpStateName(next);
    return EINVAL;
  }
  int given = mask & ~IBV_QP_STATE;
  if ((given & rule.required) != rule.required) {
    *why = std::string("missing required attributes for ") + QpStateName(cur) + " -> " +
           QpStateName(next) + " (mask " + Hex(mask) + ")";
    return EINVAL;
  }
  if (given & ~(rule.required | rule.optional)) {
    *why = std::string("attributes not allowed for ") + QpStateName(cur) + " -> " +
           QpStateName(next) + " (extra bits " + Hex(given & ~(rule.required | rule.optional)) +
           ")";
    return EINVAL;
  }
  return CheckValues(attr, mask, port, why) ? 0 : EINVAL;
}

uint64_t TransportTimeoutNs(uint8_t timeout) {
  if (timeout == 0) return 0;
  return uint64_t(4096) << timeout;
}

uint64_t RnrDelayNs(uint8_t min_rnr_timer) {
  static const uint32_t kMicros[32] = {
      655360, 10,    20,    30,    40,    60,     80,     120,    160,    240,   320,
      480,    640,   960,   1280,  1920,  2560,   3840,   5120,   7680,   10240, 15360,
      20480,  30720, 40960, 61440, 81920, 122880, 163840, 245760, 327680, 491520};
  return uint64_t(kMicros[min_rnr_timer & 31]) * 1000;
}

const char* QpStateName(int state) {
  switch (state) {
    case IBV_QPS_RESET: return "RESET";
    case IBV_QPS_INIT: return "INIT";
    case IBV_QPS_RTR: return "RTR";
    case IBV_QPS_RTS: return "RTS";
    case IBV_QPS_SQD: return "SQD";
    case IBV_QPS_SQE: return "SQE";
    case IBV_QPS_ERR: return "ERR";
    default: return "UNKNOWN";
  }
}

}  // namespace softverbs
