/* Internal: the context options that name files (key_file, cert_file,
 * ca_file, ca_path, crl_file, pfx_file), the system's root certificates
 * (tls.rootCertificates) and the extra CAs (NODE_EXTRA_CA_CERTS). They need a
 * file system: a freestanding build (or one with PORTLS_NO_FILES) has none,
 * and these options then fail with PORTLS_ENOTSUP. */
#ifndef PORTLS_CORE_FILES_H
#define PORTLS_CORE_FILES_H

#include "portls/portls.h"

#if __STDC_HOSTED__ && !defined(PORTLS_NO_FILES)
#define PORTLS__HAVE_FILES 1
#else
#define PORTLS__HAVE_FILES 0
#endif

/* 1 when opts names a file. */
int portls__context_has_files(const portls_context_options *opts);

/* portls_context_new() for options that name files: reads and checks them,
 * then makes the context from the options with their contents added; errors
 * about a file's content name the option and the path. */
int portls__context_new_files(const portls_context_options *opts, portls_context **out,
                              portls_error *err);

/* The extra CAs in force (portls_set_extra_ca_certs, else the file named by
 * PORTLS_EXTRA_CA_CERTS, read the first time): 0 with *ca and *count set
 * (count 0: none), or the error that reading the variable's file gave. */
int portls__extra_ca(const portls_buf **ca, size_t *count, portls_error *err);

#endif
