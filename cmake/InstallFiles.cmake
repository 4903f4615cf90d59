# Run by `cmake --install` after the binary is installed (see cmake/Install.cmake), with
# CMAKE_INSTALL_PREFIX set to the install-time prefix and $ENV{DESTDIR} for staging.
set(root "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(bindir "${CMAKE_INSTALL_PREFIX}/${JITGATE_BINDIR}")

# A release build's split binary replaces the full one; its debug info goes where gdb looks.
set(split "${JITGATE_BINARY}")
get_filename_component(build_dir "${split}" DIRECTORY)
set(split "${build_dir}/release/jitgate")
if(EXISTS "${split}" AND NOT "${JITGATE_BINARY}" IS_NEWER_THAN "${split}")
  message(STATUS "Installing: ${root}/${JITGATE_BINDIR}/jitgate (debug info split off)")
  file(COPY "${split}" DESTINATION "${root}/${JITGATE_BINDIR}" USE_SOURCE_PERMISSIONS)
  file(COPY "${split}.debug" DESTINATION "${root}/lib/debug${bindir}")
endif()

# The systemd unit names the binary and the configuration by their installed paths.
set(CMAKE_INSTALL_FULL_BINDIR "${bindir}")
set(JITGATE_CONFIG "/etc/jitgate/jitgate.yaml")
set(JITGATE_EXAMPLE_CONFIG "${CMAKE_INSTALL_PREFIX}/${JITGATE_DATADIR}/jitgate/jitgate.yaml.example")
message(STATUS "Installing: ${root}/lib/systemd/system/jitgate.service")
configure_file("${JITGATE_SOURCE_DIR}/packaging/jitgate.service.in"
               "${root}/lib/systemd/system/jitgate.service" @ONLY)

# The manual page comes from the installed binary's --help, so it always matches it.
set(man "${root}/${JITGATE_MANDIR}/man1")
file(MAKE_DIRECTORY "${man}")
message(STATUS "Installing: ${man}/jitgate.1")
execute_process(COMMAND /usr/bin/python3 "${JITGATE_SOURCE_DIR}/scripts/manpage.py"
                        "${root}/${JITGATE_BINDIR}/jitgate" "${man}/jitgate.1"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot write the jitgate(1) manual page")
endif()
