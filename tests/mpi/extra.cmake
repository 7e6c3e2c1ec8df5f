# The MPI tests run under mpirun: rank 0 runs GoogleTest, the other ranks serve it. mpirun is the target's
# CROSSCOMPILING_EMULATOR, which test discovery and every test command put in front of the binary; each test
# is one bounded mpirun (`timeout -k`). As root (CI), mpirun needs --allow-run-as-root. Transports: shared
# memory (vader, single copy off: containers forbid process_vm_readv) and, in a second binary, TCP on
# loopback, the path a cluster takes. --enable-recovery keeps the job alive when a rank dies, so that
# rank 0 can report it (tests/mpi/test_rank_loss.cpp).
if(TARGET spindle_mpi)
  find_program(SPINDLE_MPIRUN mpirun REQUIRED)
  set(_mpirun timeout -k 5 300 ${SPINDLE_MPIRUN} --allow-run-as-root --oversubscribe --enable-recovery -np 4)
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
    set_target_properties(${_name} PROPERTIES CROSSCOMPILING_EMULATOR "${_mpirun};${_transport}")
    gtest_discover_tests(${_name} TEST_PREFIX "${_name}." DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 120
      NO_PRETTY_VALUES PROPERTIES TIMEOUT 300 LABELS unit)
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
