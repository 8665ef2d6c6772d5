# CUDA support, included by the top-level CMakeLists.txt.
#   COLL_WITH_CUDA=auto  on when nvcc is found (on PATH, $CUDACXX, or /usr/local/cuda/bin)
#   COLL_WITH_CUDA=ON    the same, but a missing nvcc is an error
#   COLL_WITH_CUDA=OFF   no CUDA code at all
# With CUDA on: COLL_HAVE_CUDA is ON, the CUDA language is enabled, CUDA::cudart_static exists,
# and coll_cuda_flags() gives a target the project's nvcc flags. libcollective links the CUDA
# runtime statically and never links libcuda: the driver is dlopened (src/cuda/driver.h), so
# one library runs on machines with and without a GPU.
set(COLL_WITH_CUDA auto CACHE STRING "CUDA support: auto (when nvcc is found), ON, OFF")
set_property(CACHE COLL_WITH_CUDA PROPERTY STRINGS auto ON OFF)
string(TOUPPER "${COLL_WITH_CUDA}" _coll_with_cuda)
if(NOT _coll_with_cuda MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "COLL_WITH_CUDA=${COLL_WITH_CUDA}: use auto, ON or OFF")
endif()

set(COLL_HAVE_CUDA OFF)
if(NOT _coll_with_cuda STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(COLL_NVCC nvcc HINTS /usr/local/cuda/bin)
    if(COLL_NVCC)
      set(CMAKE_CUDA_COMPILER ${COLL_NVCC})
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # PTX for any GPU from Turing on (JIT-compiled once by the driver) plus Hopper machine code:
    # two targets keep nvcc's share of a build small. Override with -DCMAKE_CUDA_ARCHITECTURES.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 75-virtual 90-real)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(COLL_HAVE_CUDA ON)
  elseif(_coll_with_cuda STREQUAL "ON")
    message(FATAL_ERROR "COLL_WITH_CUDA=ON but no CUDA compiler (nvcc) was found: put it on PATH or set CUDACXX")
  endif()
endif()
message(STATUS "CUDA support: ${COLL_HAVE_CUDA} (COLL_WITH_CUDA=${COLL_WITH_CUDA})")

# nvcc flags for a target's .cu files: warnings are errors (device and host code), and the
# float rules the reduction kernels promise (no flush to zero, IEEE division, no FMA
# contraction) do not depend on anyone's defaults.
function(coll_cuda_flags target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Werror -ftz=false -prec-div=true -fmad=false>)
  set_target_properties(${target} PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON CUDA_EXTENSIONS OFF)
endfunction()
