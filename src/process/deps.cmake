# The processes model: cereal (header-only, Debian libcereal-dev) for the codec. Header-only, so nothing to
# link; the include directory is the system one. Workers are started by re-exec'ing the program, which needs
# no library either.
find_path(SPINDLE_CEREAL_INCLUDE cereal/cereal.hpp REQUIRED)
set(SPINDLE_PROCESS_DEPS spindle::thread)
