/* Context options that name files, tls.rootCertificates and the extra CAs
 * (NODE_EXTRA_CA_CERTS). Core reads and checks every file itself, so the same
 * mistake gives the same code and a message naming the option and the path
 * on every backend; the backend then gets the contents as buffers. */
#define _POSIX_C_SOURCE 200809L
#include "tls/files.h"

#include <string.h>

#include "util/util.h"

#if PORTLS__HAVE_FILES
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "tls/x509.h"
#include "util/pem.h"

/* ---- checking what a file holds ---- */

static const char *const cert_labels[] = {"CERTIFICATE", "TRUSTED CERTIFICATE", NULL};

/* name is what the message starts with: "cert_file /p.pem". At least one
 * certificate, each of which parses; or one DER certificate. */
static int check_certs(portls_buf b, const char *name, int code, portls_error *err) {
  size_t pos = 0, n = 0;
  portls__pem_block blk;
  int rc;
  while ((rc = portls__pem_find(b.base, b.len, &pos, cert_labels, &blk)) == 0) {
    n++;
    if (portls__pem_is(&blk, "TRUSTED CERTIFICATE")) continue; /* DER followed by trust data */
    uint8_t *der = NULL;
    size_t len = 0;
    if ((rc = portls__pem_decode(&blk, &der, &len)) < 0)
      return rc == PORTLS_ENOMEM
                 ? portls__err(err, rc, "%s: out of memory", name)
                 : portls__err(err, code, "%s: certificate %zu: bad base64", name, n);
    portls_error why;
    portls__x509 x;
    rc = portls__x509_parse(der, len, &x, &why);
    portls__free(der);
    if (rc < 0)
      return portls__err(err, code, "%s: certificate %zu does not parse: %s", name, n, why.message);
  }
  if (rc == PORTLS__PEM_NO_END)
    return portls__err(err, code, "%s: a BEGIN CERTIFICATE line without its END line", name);
  if (n > 0) return 0;
  portls__x509 x;
  if (b.len > 0 && ((const uint8_t *)b.base)[0] == 0x30 &&
      portls__x509_parse(b.base, b.len, &x, NULL) == 0)
    return 0; /* one DER certificate */
  return portls__err(err, code, "%s: no PEM certificate found", name);
}

static int check_key(portls_buf b, const char *name, portls_error *err) {
  size_t pos = 0;
  portls__pem_block blk;
  static const char suffix[] = "PRIVATE KEY";
  const size_t sl = sizeof suffix - 1;
  int rc;
  while ((rc = portls__pem_find(b.base, b.len, &pos, NULL, &blk)) == 0)
    if (blk.label_len >= sl && memcmp(blk.label + blk.label_len - sl, suffix, sl) == 0) return 0;
  if (rc == PORTLS__PEM_NO_END)
    return portls__err(err, PORTLS_EKEY, "%s: a BEGIN line without its END line", name);
  if (b.len > 1 && ((const uint8_t *)b.base)[0] == 0x30) return 0; /* DER: the backend decides */
  return portls__err(err, PORTLS_EKEY, "%s: no PEM private key found", name);
}

static int check_crl(portls_buf b, const char *name, portls_error *err) {
  static const char *const labels[] = {"X509 CRL", NULL};
  size_t pos = 0;
  portls__pem_block blk;
  int rc = portls__pem_find(b.base, b.len, &pos, labels, &blk);
  if (rc == 0) return 0;
  if (rc == PORTLS__PEM_NO_END)
    return portls__err(err, PORTLS_ECRL, "%s: a BEGIN X509 CRL line without its END line", name);
  return portls__err(err, PORTLS_ECRL, "%s: no PEM CRL found", name);
}

static int check_pfx(portls_buf b, const char *name, portls_error *err) {
  const uint8_t *p = b.base;
  if (b.len < 4 || p[0] != 0x30)
    return portls__err(err, PORTLS_EPFX, "%s: not a PKCS#12 file (DER expected)", name);
  return 0;
}

/* ---- a set of files read for one context ---- */

typedef struct loaded {
  portls_buf *bufs; /* every file read, freed together */
  size_t n, cap;
} loaded;

static void loaded_free(loaded *l) {
  for (size_t i = 0; i < l->n; i++) {
    /* keys among them: wipe before freeing */
    if (l->bufs[i].base != NULL) memset((void *)(uintptr_t)l->bufs[i].base, 0, l->bufs[i].len);
    portls_free((void *)(uintptr_t)l->bufs[i].base);
  }
  portls__free(l->bufs);
  l->bufs = NULL;
  l->n = l->cap = 0;
}

/* Reads path for option opt; the error names both. */
static int load(loaded *l, const char *opt, const char *path, portls_buf *out, portls_error *err) {
  if (path[0] == '\0') return portls__err(err, PORTLS_EINVAL, "%s: empty path", opt);
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    portls_buf *nb = portls__realloc(l->bufs, cap * sizeof *nb);
    if (nb == NULL) return portls__err(err, PORTLS_ENOMEM, "%s %s: out of memory", opt, path);
    l->bufs = nb;
    l->cap = cap;
  }
  portls_error e;
  int rc = portls_read_file(path, out, &e);
  if (rc < 0) return portls__err(err, rc, "%s %s", opt, e.message); /* "path: reason" */
  l->bufs[l->n++] = *out;
  if (out->len == 0) return portls__err(err, PORTLS_EINVAL, "%s %s: empty file", opt, path);
  return 0;
}

/* ---- ca_path: OpenSSL's hashed directory ---- */

/* "<8 hex digits>.<digits>": a certificate (CRLs are "<hash>.r<digits>"). */
static int hashed_cert_name(const char *s) {
  for (int i = 0; i < 8; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  if (s[8] != '.' || s[9] == '\0') return 0;
  for (const char *p = s + 9; *p != '\0'; p++)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends every hashed certificate file of dir to *cas (grown as needed). */
static int load_ca_path(loaded *l, const char *dir, portls_buf **cas, size_t *ncas,
                        portls_error *err) {
  if (dir[0] == '\0') return portls__err(err, PORTLS_EINVAL, "ca_path: empty path");
  DIR *d = opendir(dir);
  if (d == NULL) {
    portls_buf probe;
    portls_error e;
    /* the same code and words as for a file: ENOENT, EACCES, ... */
    int rc = portls_read_file(dir, &probe, &e);
    if (rc == 0) {
      portls_free((void *)(uintptr_t)probe.base);
      return portls__err(err, PORTLS_EINVAL, "ca_path %s: not a directory", dir);
    }
    return portls__err(err, rc, "ca_path %s", e.message);
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
    if (!hashed_cert_name(de->d_name)) continue;
    if (n == cap) {
      size_t nc = cap ? 2 * cap : 64;
      char **nn = portls__realloc(names, nc * sizeof *nn);
      if (nn == NULL) {
        rc = portls__err(err, PORTLS_ENOMEM, "ca_path %s: out of memory", dir);
        break;
      }
      names = nn;
      cap = nc;
    }
    if ((names[n] = portls__strdup(de->d_name)) == NULL)
      rc = portls__err(err, PORTLS_ENOMEM, "ca_path %s: out of memory", dir);
    else
      n++;
  }
  closedir(d);
  if (rc == 0 && n == 0)
    rc = portls__err(err, PORTLS_ECERT,
                     "ca_path %s: no hashed certificate (<hash>.0) in the directory; "
                     "make them with `openssl rehash`",
                     dir);
  if (rc == 0) {
    qsort(names, n, sizeof *names, cmp_names);
    portls_buf *grown = portls__realloc(*cas, (*ncas + n) * sizeof **cas);
    if (grown == NULL)
      rc = portls__err(err, PORTLS_ENOMEM, "ca_path %s: out of memory", dir);
    else
      *cas = grown;
  }
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char path[1024], name[1040];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path) {
      rc = portls__err(err, PORTLS_ENAMETOOLONG, "ca_path %s: path too long", dir);
      break;
    }
    snprintf(name, sizeof name, "ca_path %s", path);
    portls_buf b;
    if ((rc = load(l, "ca_path", path, &b, err)) == 0 &&
        (rc = check_certs(b, name, PORTLS_ECERT, err)) == 0)
      (*cas)[(*ncas)++] = b;
  }
  for (size_t i = 0; i < n; i++) portls__free(names[i]);
  portls__free(names);
  return rc;
}

/* ---- the context ---- */

int portls__context_has_files(const portls_context_options *o) {
  return o->key_file != NULL || o->cert_file != NULL || o->ca_file != NULL || o->ca_path != NULL ||
         o->crl_file != NULL || o->pfx_file != NULL;
}

/* When the backend's message starts with "from:", makes it "to:". */
static void rename_option(portls_error *err, const char *from, const char *to) {
  size_t n = strlen(from);
  if (err == NULL || strncmp(err->message, from, n) != 0 || err->message[n] != ':') return;
  /* to, then the rest of the message, cut to fit (the path may be long). */
  char msg[sizeof err->message];
  size_t cap = sizeof msg - 1, tl = strlen(to), rl = strlen(err->message + n);
  if (tl > cap) tl = cap;
  if (rl > cap - tl) rl = cap - tl;
  memcpy(msg, to, tl);
  memcpy(msg + tl, err->message + n, rl);
  msg[tl + rl] = '\0';
  memcpy(err->message, msg, sizeof msg);
}

/* Copies n buffers into a new array with room for extra more. */
static portls_buf *grow_copy(const portls_buf *b, size_t n, size_t extra) {
  portls_buf *out = portls__calloc(n + extra + 1, sizeof *out);
  if (out != NULL && n > 0) memcpy(out, b, n * sizeof *out);
  return out;
}

int portls__context_new_files(const portls_context_options *o, portls_context **out,
                              portls_error *err) {
  portls_context_options co = *o;
  co.key_file = co.cert_file = co.ca_file = co.ca_path = co.crl_file = co.pfx_file = NULL;
  loaded l = {0};
  portls_buf *keys = grow_copy(o->key, o->key_count, 1);
  portls_buf *certs = grow_copy(o->cert, o->cert_count, 1);
  portls_buf *cas = grow_copy(o->ca, o->ca_count, 1);
  portls_buf *crls = grow_copy(o->crl, o->crl_count, 1);
  size_t nkeys = o->key_count, ncerts = o->cert_count, ncas = o->ca_count, ncrls = o->crl_count;
  char name[1100];
  portls_buf b;
  int rc = 0;
  if (keys == NULL || certs == NULL || cas == NULL || crls == NULL) {
    rc = portls__err(err, PORTLS_ENOMEM, NULL);
    goto done;
  }
  if (o->pfx_file != NULL && o->pfx.len > 0) {
    rc = portls__err(err, PORTLS_EINVAL, "pfx_file: mutually exclusive with pfx");
    goto done;
  }
  if (o->pfx_file != NULL && (rc = portls__need_cap(PORTLS_CAP_PFX, "pfx_file", err)) < 0)
    goto done;
  if (o->crl_file != NULL && (rc = portls__need_cap(PORTLS_CAP_CRL, "crl_file", err)) < 0)
    goto done;
  if (o->cert_file != NULL) {
    snprintf(name, sizeof name, "cert_file %s", o->cert_file);
    if ((rc = load(&l, "cert_file", o->cert_file, &b, err)) < 0 ||
        (rc = check_certs(b, name, PORTLS_ECERT, err)) < 0)
      goto done;
    certs[ncerts++] = b;
  }
  if (o->key_file != NULL) {
    snprintf(name, sizeof name, "key_file %s", o->key_file);
    if ((rc = load(&l, "key_file", o->key_file, &b, err)) < 0 || (rc = check_key(b, name, err)) < 0)
      goto done;
    keys[nkeys++] = b;
  }
  if (o->ca_file != NULL) {
    snprintf(name, sizeof name, "ca_file %s", o->ca_file);
    if ((rc = load(&l, "ca_file", o->ca_file, &b, err)) < 0 ||
        (rc = check_certs(b, name, PORTLS_ECERT, err)) < 0)
      goto done;
    cas[ncas++] = b;
  }
  if (o->ca_path != NULL && (rc = load_ca_path(&l, o->ca_path, &cas, &ncas, err)) < 0) goto done;
  if (o->crl_file != NULL) {
    snprintf(name, sizeof name, "crl_file %s", o->crl_file);
    if ((rc = load(&l, "crl_file", o->crl_file, &b, err)) < 0 || (rc = check_crl(b, name, err)) < 0)
      goto done;
    crls[ncrls++] = b;
  }
  if (o->pfx_file != NULL) {
    snprintf(name, sizeof name, "pfx_file %s", o->pfx_file);
    if ((rc = load(&l, "pfx_file", o->pfx_file, &b, err)) < 0 || (rc = check_pfx(b, name, err)) < 0)
      goto done;
    co.pfx = b;
  }
  co.key = keys;
  co.key_count = nkeys;
  co.cert = certs;
  co.cert_count = ncerts;
  co.ca = cas;
  co.ca_count = ncas;
  co.crl = crls;
  co.crl_count = ncrls;
  rc = portls_context_new(&co, out, err);
  if (rc < 0) {
    /* What the backend (or core's PKCS decoding) found in a file's content:
     * its message names the option as for a buffer; name the file instead. */
    char from[32], to[1100];
    if (o->key_file != NULL) {
      if (nkeys > 1)
        snprintf(from, sizeof from, "key[%zu]", nkeys - 1);
      else
        snprintf(from, sizeof from, "key");
      if (rc == PORTLS_EKEY_MISMATCH && o->cert_file != NULL)
        snprintf(to, sizeof to, "key_file %s (for cert_file %s)", o->key_file, o->cert_file);
      else
        snprintf(to, sizeof to, "key_file %s", o->key_file);
      rename_option(err, from, to);
    }
    if (o->cert_file != NULL) {
      if (ncerts > 1)
        snprintf(from, sizeof from, "cert[%zu]", ncerts - 1);
      else
        snprintf(from, sizeof from, "cert");
      snprintf(to, sizeof to, "cert_file %s", o->cert_file);
      rename_option(err, from, to);
    }
    if (o->pfx_file != NULL) {
      snprintf(to, sizeof to, "pfx_file %s", o->pfx_file);
      rename_option(err, "pfx", to);
    }
    if (o->crl_file != NULL && o->crl_count == 0) {
      snprintf(to, sizeof to, "crl_file %s", o->crl_file);
      rename_option(err, "crl", to);
    }
    if (o->ca_count == 0 && (o->ca_file == NULL) != (o->ca_path == NULL)) {
      if (o->ca_file != NULL)
        snprintf(to, sizeof to, "ca_file %s", o->ca_file);
      else
        snprintf(to, sizeof to, "ca_path %s", o->ca_path);
      rename_option(err, "ca", to);
    }
  }
done:
  portls__free(keys);
  portls__free(certs);
  portls__free(cas);
  portls__free(crls);
  loaded_free(&l);
  return rc;
}

/* ---- the extra CAs (NODE_EXTRA_CA_CERTS) ---- */

static portls_buf *extra_ca;
static size_t extra_count;
static int extra_decided; /* set by the call, or the variable read */
static int extra_rc;      /* the variable's file could not be used */
static portls_error extra_err;

static void extra_clear(void) {
  for (size_t i = 0; i < extra_count; i++) portls__free((void *)(uintptr_t)extra_ca[i].base);
  portls__free(extra_ca);
  extra_ca = NULL;
  extra_count = 0;
  extra_rc = 0;
}

/* Copies ca into the process-wide set; checked first. */
static int extra_take(const portls_buf *ca, size_t count, const char *what, portls_error *err) {
  char name[1100];
  for (size_t i = 0; i < count; i++) {
    if (count > 1)
      snprintf(name, sizeof name, "%s[%zu]", what, i);
    else
      snprintf(name, sizeof name, "%s", what);
    if (ca[i].base == NULL || ca[i].len == 0)
      return portls__err(err, PORTLS_ECERT, "%s: no PEM certificate found", name);
    int rc = check_certs(ca[i], name, PORTLS_ECERT, err);
    if (rc < 0) return rc;
  }
  portls_buf *copy = count ? portls__calloc(count, sizeof *copy) : NULL;
  if (count > 0 && copy == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  for (size_t i = 0; i < count; i++) {
    if ((copy[i].base = portls__memdup(ca[i].base, ca[i].len)) == NULL) {
      for (size_t j = 0; j < i; j++) portls__free((void *)(uintptr_t)copy[j].base);
      portls__free(copy);
      return portls__err(err, PORTLS_ENOMEM, NULL);
    }
    copy[i].len = ca[i].len;
  }
  extra_clear();
  extra_ca = copy;
  extra_count = count;
  return 0;
}

int portls_set_extra_ca_certs(const portls_buf *ca, size_t count, portls_error *err) {
  if (count > 0 && ca == NULL)
    return portls__err(err, PORTLS_EINVAL, "extra_ca: count %zu but no array", count);
  int rc = extra_take(ca, count, "extra_ca", err);
  if (rc == 0) extra_decided = 1;
  return rc;
}

int portls__extra_ca(const portls_buf **ca, size_t *count, portls_error *err) {
  if (!extra_decided) {
    extra_decided = 1;
    const char *path = getenv("PORTLS_EXTRA_CA_CERTS");
    if (path != NULL && path[0] != '\0') {
      portls_buf b;
      portls_error e;
      char name[1100];
      snprintf(name, sizeof name, "PORTLS_EXTRA_CA_CERTS %s", path);
      int rc = portls_read_file(path, &b, &e);
      if (rc < 0) {
        extra_rc = portls__err(&extra_err, rc, "PORTLS_EXTRA_CA_CERTS %s", e.message);
      } else {
        rc = extra_take(&b, 1, name, &extra_err);
        portls_free((void *)(uintptr_t)b.base);
        if (rc < 0) extra_rc = rc;
      }
    }
  }
  if (extra_rc < 0) {
    if (err != NULL) *err = extra_err;
    return extra_rc;
  }
  *ca = extra_ca;
  *count = extra_count;
  return 0;
}

/* ---- tls.rootCertificates ---- */

static char **roots;
static size_t roots_count;
static int roots_done, roots_rc;
static portls_error roots_err;

static const char *roots_file(void) {
  const char *env = getenv("SSL_CERT_FILE");
  if (env != NULL && env[0] != '\0') return env;
  static const char *const candidates[] = {"/etc/ssl/certs/ca-certificates.crt",
                                           "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"};
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(candidates); i++) {
    FILE *f = fopen(candidates[i], "rb");
    if (f != NULL) {
      fclose(f);
      return candidates[i];
    }
  }
  return candidates[0];
}

static int roots_load(portls_error *err) {
  const char *path = roots_file();
  portls_buf b;
  portls_error e;
  int rc = portls_read_file(path, &b, &e);
  if (rc < 0) return portls__err(err, rc, "rootCertificates: %s", e.message);
  const char *text = b.base;
  size_t pos = 0, cap = 0;
  portls__pem_block blk;
  static const char *const labels[] = {"CERTIFICATE", NULL};
  while (rc == 0 && portls__pem_find(text, b.len, &pos, labels, &blk) == 0) {
    uint8_t *der = NULL;
    size_t len = 0;
    portls__x509 x;
    if ((rc = portls__pem_decode(&blk, &der, &len)) < 0) {
      if (rc != PORTLS_ENOMEM) rc = 0; /* a damaged block is left out */
      continue;
    }
    int ok = portls__x509_parse(der, len, &x, NULL) == 0;
    portls__free(der);
    if (!ok) continue;
    /* The block as the file has it, from its BEGIN line through its END line. */
    const char *start = blk.label - strlen("-----BEGIN ");
    const char *end = text + pos;
    while (end > start && (end[-1] == '\n' || end[-1] == '\r')) end--;
    if (roots_count == cap) {
      size_t nc = cap ? 2 * cap : 128;
      char **nr = portls__realloc(roots, nc * sizeof *nr);
      if (nr == NULL) {
        rc = PORTLS_ENOMEM;
        break;
      }
      roots = nr;
      cap = nc;
    }
    /* As Node's strings: no line end after the END line. */
    char *s = portls__malloc((size_t)(end - start) + 1);
    if (s == NULL) {
      rc = PORTLS_ENOMEM;
      break;
    }
    memcpy(s, start, (size_t)(end - start));
    s[end - start] = '\0';
    roots[roots_count++] = s;
  }
  portls_free((void *)(uintptr_t)b.base);
  if (rc == PORTLS_ENOMEM) return portls__err(err, rc, "rootCertificates: out of memory");
  if (roots_count == 0)
    return portls__err(err, PORTLS_ECERT, "rootCertificates: %s: no PEM certificate found", path);
  return 0;
}

int portls_root_certificates(const char *const **pems, size_t *count, portls_error *err) {
  if (pems == NULL || count == NULL)
    return portls__err(err, PORTLS_EINVAL, "rootCertificates: NULL argument");
  if (!roots_done) {
    roots_done = 1;
    roots_rc = roots_load(&roots_err);
    if (roots_rc < 0) {
      for (size_t i = 0; i < roots_count; i++) portls__free(roots[i]);
      portls__free(roots);
      roots = NULL;
      roots_count = 0;
      if (roots_rc == PORTLS_ENOMEM) roots_done = 0; /* may work next time */
    }
  }
  if (roots_rc < 0) {
    if (err != NULL) *err = roots_err;
    return roots_rc;
  }
  *pems = (const char *const *)roots;
  *count = roots_count;
  return 0;
}

#else /* no file system */

int portls__context_has_files(const portls_context_options *o) {
  return o->key_file != NULL || o->cert_file != NULL || o->ca_file != NULL || o->ca_path != NULL ||
         o->crl_file != NULL || o->pfx_file != NULL;
}

int portls__context_new_files(const portls_context_options *o, portls_context **out,
                              portls_error *err) {
  (void)o;
  (void)out;
  return portls__err(err, PORTLS_ENOTSUP,
                     "key_file/cert_file/ca_file/ca_path/crl_file/pfx_file: this build has no "
                     "file system; pass the contents as buffers");
}

int portls__extra_ca(const portls_buf **ca, size_t *count, portls_error *err) {
  (void)err;
  *ca = NULL;
  *count = 0;
  return 0;
}

int portls_set_extra_ca_certs(const portls_buf *ca, size_t count, portls_error *err) {
  (void)ca;
  (void)count;
  return portls__err(err, PORTLS_ENOTSUP, "extra CAs: this build has no system roots to extend");
}

int portls_root_certificates(const char *const **pems, size_t *count, portls_error *err) {
  (void)pems;
  (void)count;
  return portls__err(err, PORTLS_ENOTSUP, "rootCertificates: this build has no file system");
}
#endif
