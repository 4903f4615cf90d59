# `make install` (cmake --install): the binary, the jitgate(1) manual page generated from the
# binary's own --help, an example configuration and a hardened systemd unit.
#
#   cmake --install build --prefix /usr/local            # DESTDIR=... for staging
#
#   bin/jitgate
#   share/man/man1/jitgate.1
#   share/jitgate/jitgate.yaml.example
#   lib/systemd/system/jitgate.service                   # under the prefix
#
# Paths inside the unit and the manual page follow the prefix given at install time
# (cmake/InstallFiles.cmake runs then), not the one the build was configured with.
#
# The release build's split debug info: the `jitgate-release` target copies the binary to
# <build>/release/, moves its DWARF into release/jitgate.debug (objcopy --only-keep-debug),
# strips the copy and links the two (--add-gnu-debuglink), then prints both sizes. An install
# from that build directory installs the stripped binary and lib/debug/<bindir>/jitgate.debug.
include_guard(GLOBAL)
include(GNUInstallDirs)

if(NOT TARGET jitgate)
  return()
endif()

install(TARGETS jitgate RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/examples/gateway.yaml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/jitgate RENAME jitgate.yaml.example)
install(CODE "
  set(JITGATE_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(JITGATE_BINARY \"$<TARGET_FILE:jitgate>\")
  set(JITGATE_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(JITGATE_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
  set(JITGATE_MANDIR \"${CMAKE_INSTALL_MANDIR}\")
")
install(SCRIPT ${PROJECT_SOURCE_DIR}/cmake/InstallFiles.cmake)

find_program(JITGATE_OBJCOPY NAMES objcopy)
if(JITGATE_OBJCOPY)
  set(out ${PROJECT_BINARY_DIR}/release)
  add_custom_target(jitgate-release
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    COMMAND ${JITGATE_OBJCOPY} --only-keep-debug --compress-debug-sections=zlib
            $<TARGET_FILE:jitgate> ${out}/jitgate.debug
    COMMAND ${JITGATE_OBJCOPY} --strip-debug --strip-unneeded
            --add-gnu-debuglink=${out}/jitgate.debug $<TARGET_FILE:jitgate> ${out}/jitgate
    COMMAND ls -l ${out}/jitgate ${out}/jitgate.debug
    DEPENDS jitgate
    COMMENT "Splitting the debug info off the jitgate binary into ${out}"
    VERBATIM)
endif()
