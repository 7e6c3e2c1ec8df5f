// A two-stage pipeline of child processes driven from one event loop: `printf` produces lines, the parent
// reads them as they come, filters them and feeds the survivors to `sort -r` through its stdin; communicate()
// collects the result. Both children are reaped by the loop (pidfd); nothing blocks the loop.
//
// Python equivalent:
//   p1 = await asyncio.create_subprocess_exec("printf", "...", stdout=PIPE)
//   p2 = await asyncio.create_subprocess_exec("sort", "-r", stdin=PIPE, stdout=PIPE)
//   async for line in p1.stdout: ...
//   out, _ = await p2.communicate(data)

#include <cstdio>
#include <string>
#include <vector>

#include "spindle/aio/run.hpp"
#include "spindle/aio/subprocess.hpp"

namespace aio = spindle::aio;

namespace {

std::vector<std::string> args(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }

aio::Task<int> main_task() {
  const std::vector<std::string> producer_argv = args({"printf", "apple\\nbanana\\ncherry\\navocado\\nblueberry\\n"});
  const std::vector<std::string> sorter_argv = args({"sort", "-r"});
  auto spawning = aio::create_subprocess_exec(producer_argv, {.stdout_ = aio::Redirect::pipe});
  aio::Process producer = co_await std::move(spawning);
  auto spawning2 =
      aio::create_subprocess_exec(sorter_argv, {.stdin_ = aio::Redirect::pipe, .stdout_ = aio::Redirect::pipe});
  aio::Process sorter = co_await std::move(spawning2);

  std::string kept;
  for (;;) {
    std::string line = co_await producer.stdout_pipe().readline();
    if (line.empty()) break;
    if (line[0] == 'a' || line[0] == 'b') kept += line;  // the filter stage, in the parent
  }
  const int rc1 = co_await producer.wait();
  auto talking = sorter.communicate(kept);
  aio::CommunicateResult r = co_await std::move(talking);
  std::printf("producer exited %d, sorter exited %d, output:\n%s", rc1, r.returncode, r.out.c_str());
  co_return rc1 == 0 && r.returncode == 0 && r.out == "blueberry\nbanana\navocado\napple\n" ? 0 : 1;
}

}  // namespace

int main() { return aio::run(main_task()); }
