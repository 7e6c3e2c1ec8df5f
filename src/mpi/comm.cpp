#include "comm.hpp"

#include <unistd.h>

#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "spindle/mpi/errors.hpp"

namespace spindle::mpi::detail {

void Outbox::send(std::string buffer, int dest, int tag) {
  if (buffer.size() > static_cast<std::size_t>(INT_MAX)) {
    throw MpiError("spindle::mpi: a message over 2 GiB cannot be sent (MPI counts are int)");
  }
  auto& s = sends_.emplace_back();
  s.buffer = std::move(buffer);
  const int rc =
      MPI_Isend(s.buffer.data(), static_cast<int>(s.buffer.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD, &s.request);
  if (rc != MPI_SUCCESS) {
    sends_.pop_back();
    check(rc, "MPI_Isend");
  }
}

void Outbox::send(std::string buffer, std::string tail, int dest, int tag) {
  if (tail.empty()) return send(std::move(buffer), dest, tag);
  if (buffer.size() + tail.size() > static_cast<std::size_t>(INT_MAX)) {
    throw MpiError("spindle::mpi: a message over 2 GiB cannot be sent (MPI counts are int)");
  }
  auto& s = sends_.emplace_back();
  s.buffer = std::move(buffer);
  s.tail = std::move(tail);
  // Two blocks at their absolute addresses, sent from MPI_BOTTOM: the receiver sees one contiguous message.
  const int lengths[2] = {static_cast<int>(s.buffer.size()), static_cast<int>(s.tail.size())};
  MPI_Aint where[2];
  MPI_Datatype type = MPI_DATATYPE_NULL;
  int rc = MPI_Get_address(s.buffer.data(), &where[0]);
  if (rc == MPI_SUCCESS) rc = MPI_Get_address(s.tail.data(), &where[1]);
  if (rc == MPI_SUCCESS) rc = MPI_Type_create_hindexed(2, lengths, where, MPI_BYTE, &type);
  if (rc == MPI_SUCCESS) rc = MPI_Type_commit(&type);
  if (rc == MPI_SUCCESS) rc = MPI_Isend(MPI_BOTTOM, 1, type, dest, tag, MPI_COMM_WORLD, &s.request);
  // Freeing the type now is allowed: MPI keeps it until the send that uses it completes.
  if (type != MPI_DATATYPE_NULL) MPI_Type_free(&type);
  if (rc != MPI_SUCCESS) {
    sends_.pop_back();
    check(rc, "MPI_Isend (two parts)");
  }
}

bool Outbox::progress() {
  bool any = false;
  for (auto it = sends_.begin(); it != sends_.end();) {
    int done = 0;
    check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) {
      it = sends_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  return any;
}

void bounded(std::chrono::milliseconds limit, const char* what, const std::function<void()>& call) {
  std::mutex mutex;
  std::condition_variable returned;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mutex);
    if (returned.wait_for(lock, limit, [&] { return done; })) return;
    std::fprintf(stderr, "spindle::mpi: %s did not return in %.1f s (a rank of the job was lost?); exiting.\n", what,
                 std::chrono::duration<double>(limit).count());
    std::fflush(stderr);
    std::_Exit(70);
  });
  const auto finish = [&] {
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    returned.notify_one();
    watchdog.join();
  };
  try {
    call();
  } catch (...) {
    finish();
    throw;
  }
  finish();
}

bool try_receive(int source, Message& out, const Place* place) {
  int flag = 0;
  MPI_Message message = MPI_MESSAGE_NULL;
  MPI_Status status{};
  check(MPI_Improbe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &message, &status), "MPI_Improbe");
  if (!flag) return false;
  int count = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
  out.source = status.MPI_SOURCE;
  out.tag = status.MPI_TAG;
  out.placed = 0;
  char* at = place != nullptr && *place ? (*place)(out.tag, static_cast<std::size_t>(count)) : nullptr;
  if (at != nullptr) {
    out.data.clear();
    out.placed = static_cast<std::size_t>(count);
  } else {
    out.data.resize(static_cast<std::size_t>(count));
    at = out.data.data();
  }
  check(MPI_Mrecv(at, count, MPI_BYTE, &message, MPI_STATUS_IGNORE), "MPI_Mrecv");
  return true;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

bool process_running(long pid) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;  // gone
  const auto paren = line.rfind(')');           // the name may hold spaces and parentheses
  if (paren == std::string::npos || paren + 2 >= line.size()) return false;
  const char state = line[paren + 2];
  return state != 'Z' && state != 'X';  // killed, not yet reaped: as gone
}

}  // namespace spindle::mpi::detail
