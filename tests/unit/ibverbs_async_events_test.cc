// What each asynchronous event of an HCA does to the ibverbs links (ClassifyEvent): the port
// going down and a fatal device error fail the whole device, QP and CQ errors the link that
// owns the object (the responder's QP errors as a consequence, so the requester's completion
// error is reported), everything else is only logged. The thread itself is exercised through
// softverbs in ibverbs_link_test (PortDownEventFailsTheLinkAtOnce) and ibverbs_fault_test.
#include <gtest/gtest.h>

#include "transport/ibverbs/async_events.h"

namespace coll {
namespace ibverbs {
namespace {

ibv_async_event Event(ibv_event_type type) {
  ibv_async_event e{};
  e.event_type = type;
  return e;
}

TEST(IbverbsAsyncEventsTest, PortDownOfOurPortFailsTheDevice) {
  ibv_async_event e = Event(IBV_EVENT_PORT_ERR);
  e.element.port_num = 1;
  EventEffect fx = ClassifyEvent(e, "mlx5_0:1", 1, "port error");
  EXPECT_EQ(fx.scope, EventEffect::kDevice);
  EXPECT_EQ(fx.status.code(), COLL_ERR_SYSTEM);
  EXPECT_NE(fx.status.message().find("mlx5_0:1 went down (IBV_EVENT_PORT_ERR)"), std::string::npos)
      << fx.status.message();
  e.element.port_num = 2;  // another port of the HCA: not ours
  fx = ClassifyEvent(e, "mlx5_0:1", 1, "port error");
  EXPECT_EQ(fx.scope, EventEffect::kLog);
  EXPECT_EQ(fx.text, "mlx5_0:1: asynchronous event port error on port 2");
}

TEST(IbverbsAsyncEventsTest, DeviceFatalFailsTheDevice) {
  EventEffect fx = ClassifyEvent(Event(IBV_EVENT_DEVICE_FATAL), "mlx5_0:1", 1, "local catastrophic error");
  EXPECT_EQ(fx.scope, EventEffect::kDevice);
  EXPECT_NE(fx.status.message().find("IBV_EVENT_DEVICE_FATAL"), std::string::npos) << fx.status.message();
  EXPECT_NE(fx.status.message().find("dmesg"), std::string::npos) << fx.status.message();
}

TEST(IbverbsAsyncEventsTest, QpAndCqErrorsFailTheirLink) {
  ibv_qp* qp = reinterpret_cast<ibv_qp*>(0x1000);
  ibv_cq* cq = reinterpret_cast<ibv_cq*>(0x2000);
  ibv_async_event e = Event(IBV_EVENT_QP_FATAL);
  e.element.qp = qp;
  EventEffect fx = ClassifyEvent(e, "rxe0:1", 1, "local work queue catastrophic error");
  EXPECT_EQ(fx.scope, EventEffect::kObject);
  EXPECT_EQ(fx.object, qp);
  EXPECT_FALSE(fx.status.isConsequence());
  EXPECT_NE(fx.status.message().find("IBV_EVENT_QP_FATAL"), std::string::npos);
  for (ibv_event_type t : {IBV_EVENT_QP_REQ_ERR, IBV_EVENT_QP_ACCESS_ERR}) {
    e = Event(t);
    e.element.qp = qp;
    fx = ClassifyEvent(e, "rxe0:1", 1, "x");
    EXPECT_EQ(fx.scope, EventEffect::kObject);
    EXPECT_TRUE(fx.status.isConsequence()) << fx.status.message();
  }
  e = Event(IBV_EVENT_CQ_ERR);
  e.element.cq = cq;
  fx = ClassifyEvent(e, "rxe0:1", 1, "CQ error");
  EXPECT_EQ(fx.scope, EventEffect::kObject);
  EXPECT_EQ(fx.object, cq);
  EXPECT_NE(fx.status.message().find("overflowed"), std::string::npos);
}

TEST(IbverbsAsyncEventsTest, OtherEventsAreOnlyLogged) {
  for (ibv_event_type t : {IBV_EVENT_PORT_ACTIVE, IBV_EVENT_LID_CHANGE, IBV_EVENT_GID_CHANGE, IBV_EVENT_COMM_EST,
                           IBV_EVENT_SM_CHANGE, IBV_EVENT_CLIENT_REREGISTER}) {
    EventEffect fx = ClassifyEvent(Event(t), "rxe0:1", 1, "name");
    EXPECT_EQ(fx.scope, EventEffect::kLog) << t;
    EXPECT_TRUE(fx.status.ok());
  }
}

}  // namespace
}  // namespace ibverbs
}  // namespace coll
