// Random worker kills at full size: 100,000 tasks with 100 random SIGKILLs of workers (kills_common.hpp holds the
// scenario and what is checked; stress_process_pool_kills.cpp runs it at a modest size).

#include "kills_common.hpp"

namespace {

using namespace spindle::test::kills;

class ProcessPoolSlow : public ProcessPoolKills {};

TEST_F(ProcessPoolSlow, RandomKillsCostOnlyRunningTasks) {
  run_kills(env_or("SPINDLE_SLOW_TASKS", 100'000), env_or("SPINDLE_SLOW_KILLS", 100));
}

}  // namespace
