# Cross-compiling portls for 32-bit ARM Linux (armhf: ARMv7, hard float) on Debian 12.
#
#   bash scripts/install-cross.sh
#   bash scripts/install-mbedtls36.sh --target armhf     # mbed TLS 3.6, .deps/mbedtls-3.6-armhf
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-armhf.cmake \
#         -DPORTLS_BACKENDS=mbedtls -DPORTLS_MBEDTLS_ROOT=$PWD/.deps/mbedtls-3.6-armhf \
#         -DPORTLS_PLATFORM=posix -DPORTLS_BUILD_TESTS=OFF
#
# Compiler: crossbuild-essential-armhf (arm-linux-gnueabihf-gcc, its C library in
# /usr/arm-linux-gnueabihf). mbed TLS 3.6: cross-built from Debian's source package
# with this file (install-mbedtls36.sh --target armhf) into its own prefix, found
# there only (PORTLS_MBEDTLS=bundled). Other libraries: Debian multiarch packages
# (libfoo-dev:armhf, e.g. libmbedtls-dev:armhf for 2.28 with -DPORTLS_MBEDTLS=system),
# whose libraries are in /usr/lib/arm-linux-gnueabihf and whose headers are the
# architecture-independent ones in /usr/include (Debian's cross gcc searches
# /usr/include and /usr/lib/<triplet> after its own sysroot, so neither is ever passed
# with -I/-L). Binaries run under qemu-user, which CMake uses for anything it runs for
# the target (CMAKE_CROSSCOMPILING_EMULATOR, below).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(PORTLS_CROSS_TRIPLET arm-linux-gnueabihf)
set(CMAKE_C_COMPILER ${PORTLS_CROSS_TRIPLET}-gcc)
set(CMAKE_AR ${PORTLS_CROSS_TRIPLET}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${PORTLS_CROSS_TRIPLET}-ranlib CACHE FILEPATH "")

# Where find_library/find_path look: the cross C library's tree, and the host's root
# for multiarch packages and prefixes such as .deps/mbedtls-3.6-armhf.
# CMAKE_LIBRARY_ARCHITECTURE makes <prefix>/lib/<triplet> the first place searched
# under each prefix, so /usr/lib/arm-linux-gnueabihf/libfoo.so is found and the host's
# /usr/lib/x86_64-linux-gnu never is.
set(CMAKE_LIBRARY_ARCHITECTURE ${PORTLS_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH /usr/${PORTLS_CROSS_TRIPLET} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER) # tools (openssl, bash) run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (libuv, Criterion) must see only the target's .pc files.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${PORTLS_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# qemu-arm runs target programs against Debian's multiarch armhf C library
# (libc6:armhf, which scripts/install-cross.sh installs). Not `-L /usr/<triplet>`
# when that library is there: -L takes the dynamic loader from the cross sysroot
# (libc6-armhf-cross, 2.36-8) while libc.so.6 still comes from the multiarch
# directory (2.36-9+deb12uN), and with that mismatch every fork() child crashes.
if(EXISTS /lib/ld-linux-armhf.so.3)
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm)
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L /usr/${PORTLS_CROSS_TRIPLET})
endif()
