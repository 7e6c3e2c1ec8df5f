# spindle_aio's extra dependency: liburing (Debian liburing-dev) for the io_uring poller
# (src/aio/uring_poller.cpp). Private: the public headers never mention it.
find_library(SPINDLE_LIBURING uring REQUIRED)
find_path(SPINDLE_LIBURING_INCLUDE liburing.h REQUIRED)
set(SPINDLE_AIO_DEPS spindle::thread)
set(SPINDLE_AIO_PRIVATE_DEPS ${SPINDLE_LIBURING})
