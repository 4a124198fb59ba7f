#!/usr/bin/env bash
# The test command: installs missing dependencies, builds every available backend
# with warnings as errors and ASan + UBSan, and runs the whole CTest suite.
#   scripts/test.sh            (build directory: build/, or $PORTLS_BUILD_DIR)
# Exits non-zero if anything fails to build or any test fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${PORTLS_BUILD_DIR:-build}
jobs=${PORTLS_JOBS:-2}

./scripts/install-deps.sh
# The house style first: one unformatted C file fails the test command.
./scripts/check-format.sh
cmake -S . -B "$build" \
  -DCMAKE_BUILD_TYPE=Debug \
  -DPORTLS_WERROR=ON \
  -DPORTLS_SANITIZE=ON \
  -DPORTLS_BUILD_TESTS=ON \
  -DPORTLS_BUILD_TOOLS=ON \
  -DPORTLS_BUILD_EXAMPLES=ON
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure --no-tests=error -j"$jobs"
# Threads: N loops on N threads sharing one context, its ticket keys and a session
# store (tests/threads), under ThreadSanitizer, every backend. TSan cannot be combined
# with ASan, so it has a build of its own, of that one test program only.
cmake -S . -B "$build-tsan" -DCMAKE_BUILD_TYPE=Debug -DPORTLS_WERROR=ON \
  -DPORTLS_SANITIZE=thread -DPORTLS_BUILD_TOOLS=OFF -DPORTLS_BUILD_EXAMPLES=OFF
cmake --build "$build-tsan" -j"$jobs" --target threads-tests
ctest --test-dir "$build-tsan" --output-on-failure --no-tests=error -j"$jobs" -L threads
# The conformance suite again on the dependency-free POSIX platform, every backend,
# with the thread tests (workers, your own epoll loop through the posix backend fd).
cmake -S . -B "$build-posix" -DCMAKE_BUILD_TYPE=Debug -DPORTLS_PLATFORM=posix \
  -DPORTLS_WERROR=ON -DPORTLS_SANITIZE=ON -DPORTLS_BUILD_EXAMPLES=OFF
cmake --build "$build-posix" -j"$jobs"
ctest --test-dir "$build-posix" --output-on-failure --no-tests=error -j"$jobs" -L 'conformance|threads'
# The conformance suite on Debian 12's system mbed TLS 2.28 (the default build above
# links mbed TLS 3.6 from .deps/): Debian users link the system package. --no-tests=error
# fails it if the backend was skipped.
cmake -S . -B "$build-mbedtls228" -DCMAKE_BUILD_TYPE=Debug -DPORTLS_BACKENDS=mbedtls \
  -DPORTLS_MBEDTLS=system -DPORTLS_WERROR=ON -DPORTLS_SANITIZE=ON -DPORTLS_BUILD_EXAMPLES=OFF
# (portls-mbedtls too: `scripts/caps-table.sh build/bin:build-mbedtls228/bin` fills the
# README's mbedtls-2.28 column from it.)
cmake --build "$build-mbedtls228" -j"$jobs" --target test-conformance-mbedtls portls-mbedtls-cli
ctest --test-dir "$build-mbedtls228" --output-on-failure --no-tests=error -j"$jobs" -L conformance
# Once more under valgrind (memcheck), on the OpenSSL backend.
./scripts/valgrind.sh openssl
# The embedded proof: core + mbedTLS + platform/posix cross-built for armhf and run
# under qemu-arm (self-test, CLI against the host's openssl), and core compiled
# freestanding for a Cortex-M4.
./scripts/embedded.sh
