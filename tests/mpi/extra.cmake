# The MPI tests run under mpirun: rank 0 runs GoogleTest, the other ranks serve it. Each binary's tests run in
# one bounded mpirun (`timeout -k`), one CTest test per binary: an mpirun of four sanitized ranks takes ~3 s
# to start and stop, more than most of these tests, and it was paid per test. The verdict of each test is in
# the binary's GoogleTest XML report (test-results/ in the build tree), which CI counts (.ci/run). As root
# (CI), mpirun needs --allow-run-as-root. Transports: shared memory (vader, single copy off: containers forbid
# process_vm_readv) and, in a second binary, TCP on loopback, the path a cluster takes. --enable-recovery keeps
# the job alive when a rank dies, so that rank 0 can report it (tests/mpi/test_rank_loss.cpp).
if(TARGET spindle_mpi)
  find_program(SPINDLE_MPIRUN mpirun REQUIRED)
  set(_mpirun timeout -k 5 240 ${SPINDLE_MPIRUN} --allow-run-as-root --oversubscribe --enable-recovery -np 4)
  foreach(_variant IN ITEMS shm tcp)
    set(_name mpi_pool_${_variant})
    add_executable(${_name} ${CMAKE_CURRENT_LIST_DIR}/mpi_pool.cpp)
    target_link_libraries(${_name} PRIVATE spindle::mpi GTest::gtest)
    spindle_target_defaults(${_name})
    if(_variant STREQUAL "shm")
      set(_transport --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
    else()
      set(_transport --mca btl self,tcp --mca btl_tcp_if_include lo)
    endif()
    add_test(NAME ${_name}.MpiPool
      COMMAND ${_mpirun} ${_transport} $<TARGET_FILE:${_name}>
              --gtest_output=xml:${PROJECT_BINARY_DIR}/test-results/${_name}.xml)
    set_tests_properties(${_name}.MpiPool PROPERTIES TIMEOUT 300 LABELS unit)
  endforeach()
endif()
# The rank-loss test runs mpirun itself (test_rank_loss.cpp), around this program.
if(TARGET spindle_mpi AND TARGET test_rank_loss)
  add_executable(mpi_rank_loss_prog ${CMAKE_CURRENT_LIST_DIR}/rank_loss_prog.cpp)
  target_link_libraries(mpi_rank_loss_prog PRIVATE spindle::mpi)
  spindle_target_defaults(mpi_rank_loss_prog)
  add_dependencies(test_rank_loss mpi_rank_loss_prog)
  target_compile_definitions(test_rank_loss PRIVATE SPINDLE_MPIRUN="${SPINDLE_MPIRUN}"
                                                    SPINDLE_RANK_LOSS_PROG="$<TARGET_FILE:mpi_rank_loss_prog>")
endif()
# The unit test of the batch records includes src/mpi's wire.hpp (header-only: no MPI call, no mpirun).
if(TARGET test_mpi_wire)
  target_include_directories(test_mpi_wire PRIVATE ${PROJECT_SOURCE_DIR}/src/mpi)
endif()
