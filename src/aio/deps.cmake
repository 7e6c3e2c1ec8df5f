# spindle_aio's extra dependency: liburing (Debian liburing-dev) for the io_uring poller
# (src/aio/uring_poller.cpp). Private, since the public headers never mention it, but the library is static,
# so every program that links spindle::aio links liburing too: the exported target names LibUring::LibUring
# (found again by the installed config), and spindle.pc requires liburing.
# And OpenSSL 3 (Debian libssl-dev) for TLS streams (src/aio/tls.cpp), private for the same reason; CMake's own
# FindOpenSSL finds it again for consumers, and spindle.pc requires libssl and libcrypto.
find_package(LibUring REQUIRED)
find_package(OpenSSL 3 REQUIRED)
set(SPINDLE_AIO_DEPS spindle::thread)
set(SPINDLE_AIO_PRIVATE_DEPS LibUring::LibUring OpenSSL::SSL OpenSSL::Crypto)
spindle_package_dependency(OpenSSL PC_REQUIRES libssl libcrypto)
if(LibUring_FROM_PKGCONFIG)
  spindle_package_dependency(LibUring FIND_MODULE PC_REQUIRES liburing)
else()
  get_filename_component(_uring_dir ${LibUring_LIBRARY} DIRECTORY)
  spindle_package_dependency(LibUring FIND_MODULE PC_LIBS -L${_uring_dir} -luring)
endif()
