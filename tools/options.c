/* portls command-line tool: the one option parser, driven by CLI_OPTION_MAP. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct cli_spec {
  const char *name;
  int cmds;
  cli_kind kind;
  int many;
  uint64_t min, max;
  const char *choices;
  const char *arg;
  const char *help;
} cli_spec;

static const cli_spec specs[OPT_COUNT_] = {
#define CLI__OPT_SPEC(id, name, cmds, kind, many, min, max, choices, arg, help)                    \
  {name, cmds, kind, many, min, max, choices, arg, help},
    CLI_OPTION_MAP(CLI__OPT_SPEC)
#undef CLI__OPT_SPEC
};

/* Index of value in a '|'-separated list of choices, or -1. */
static int choice_index(const char *choices, const char *value) {
  size_t vlen = strlen(value);
  int index = 0;
  for (const char *p = choices; p != NULL; index++) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == vlen && memcmp(p, value, len) == 0) return index;
    p = bar ? bar + 1 : NULL;
  }
  return -1;
}

static int parse_number(const char *text, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  if (text[0] < '0' || text[0] > '9') return -1; /* strtoull would take "-1" and " 1" */
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int find_option(const char *name, size_t len) {
  for (int id = 0; id < OPT_COUNT_; id++)
    if (strlen(specs[id].name) == len && memcmp(specs[id].name, name, len) == 0) return id;
  return -1;
}

/* Stores one occurrence of option id with its value (NULL for a bare flag). */
static int store(cli_opts *o, int id, const char *value) {
  const cli_spec *s = &specs[id];
  cli_value *v = &o->v[id];
  int n = v->count;

  if (n >= (s->many ? CLI_MANY : 1)) {
    ev_errorf(PORTLS_EINVAL, "--%s: given %s", s->name, s->many ? "too many times" : "twice");
    return CLI_EXIT_USAGE;
  }
  v->str[n] = value;
  switch (s->kind) {
  case CLI_FLAG:
  case CLI_CHOICE: {
    int index = value ? choice_index(s->choices, value) : 1; /* a bare flag means true */
    if (index < 0) {
      ev_errorf(PORTLS_EINVAL, "--%s: expected %s, got '%s'", s->name, s->choices, value);
      return CLI_EXIT_USAGE;
    }
    v->num = (uint64_t)index;
    break;
  }
  case CLI_NUMBER:
    if (parse_number(value, s->min, s->max, &v->num) < 0) {
      ev_errorf(PORTLS_EINVAL, "--%s: expected a number from %llu to %llu, got '%s'", s->name,
                (unsigned long long)s->min, (unsigned long long)s->max, value);
      return CLI_EXIT_USAGE;
    }
    break;
  case CLI_FILE: {
    portls_error err = {0, ""};
    int rc = portls_read_file(value, &v->file[n], &err);
    if (rc < 0) {
      ev_errorf(err.code ? err.code : rc, "--%s: cannot read '%s': %s", s->name, value,
                err.message[0] ? err.message : portls_strerror(rc));
      return CLI_EXIT_USAGE;
    }
    break;
  }
  case CLI_STRING:
    break;
  }
  v->count = n + 1;
  return 0;
}

int cli_parse(int cmd, int argc, char **argv, cli_opts *o) {
  memset(o, 0, sizeof(*o));
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      cli_usage(stdout);
      return -1;
    }
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
      ev_errorf(PORTLS_EINVAL, "unexpected argument '%s'", arg);
      return CLI_EXIT_USAGE;
    }

    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int id = find_option(name, len);
    if (id < 0 || !(specs[id].cmds & cmd)) {
      ev_errorf(PORTLS_EINVAL, "unknown option --%.*s for %s", (int)len, name,
                cmd == CLI_SERVE ? "serve" : "connect");
      return CLI_EXIT_USAGE;
    }

    /* A value is `--name=value` or the next argument. For flags the next
     * argument counts only if it is one of the choices (`--stdin true`). An
     * argument that starts with "--" is taken for the next option, so that
     * `--host --port 1` says --host lacks a value (use `--send=--x` to send it). */
    const char *value = eq ? eq + 1 : NULL;
    if (specs[id].kind == CLI_FLAG) {
      if (!value && i + 1 < argc && choice_index(specs[id].choices, argv[i + 1]) >= 0)
        value = argv[++i];
    } else if (!value) {
      if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
        ev_errorf(PORTLS_EINVAL, "--%s: missing value", specs[id].name);
        return CLI_EXIT_USAGE;
      }
      value = argv[++i];
    }
    int rc = store(o, id, value);
    if (rc) return rc;
  }
  return 0;
}

void cli_opts_free(cli_opts *o) {
  for (int id = 0; id < OPT_COUNT_; id++)
    for (int n = 0; n < o->v[id].count; n++)
      if (o->v[id].file[n].base) portls_free((void *)o->v[id].file[n].base);
  memset(o, 0, sizeof(*o));
}

void cli_print_options(FILE *file, int cmds) {
  for (int id = 0; id < OPT_COUNT_; id++) {
    const cli_spec *s = &specs[id];
    if (!(s->cmds & cmds)) continue;
    char left[64];
    snprintf(left, sizeof(left), "--%s%s%s", s->name, s->arg ? " " : "", s->arg ? s->arg : "");
    fprintf(file, "    %-34s %s\n", left, s->help);
  }
}

/* ------------------------------------------------------------------------ */
/* From options to library options                                            */

static int split_list(const cli_opts *o, cli_opt_id id, cli_list *list, portls_protocols *out) {
  const char *text = cli_str(o, id, NULL);
  if (text == NULL || *text == '\0') return 0;
  list->copy = malloc(strlen(text) + 1);
  if (list->copy == NULL) {
    ev_error(PORTLS_ENOMEM, NULL);
    return CLI_EXIT_USAGE;
  }
  strcpy(list->copy, text);
  for (char *p = list->copy; p != NULL;) {
    if (list->count == CLI_MANY) {
      ev_errorf(PORTLS_EALPN, "--%s: more than %d protocols", specs[id].name, CLI_MANY);
      return CLI_EXIT_USAGE;
    }
    list->names[list->count++] = p;
    p = strchr(p, ',');
    if (p) *p++ = '\0';
  }
  out->names = list->names;
  out->count = list->count;
  return 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The second and later occurrences of a file option, read into bufs and
 * given as buffers (the first is the library's `name` file option). */
static int read_more(const cli_value *v, cli_opt_id id, const char *name, portls_buf *bufs,
                     const portls_buf **out, size_t *count) {
  const cli_value *val = &v[id];
  if (val->count < 2) return 0;
  for (int i = 1; i < val->count; i++) {
    portls_error err = {0, ""};
    int rc = portls_read_file(val->str[i], &bufs[i - 1], &err);
    if (rc < 0) {
      ev_errorf(err.code ? err.code : rc, "%s %s", name, err.message); /* "path: reason" */
      return CLI_EXIT_USAGE;
    }
  }
  *out = bufs;
  *count = (size_t)val->count - 1;
  return 0;
}

int cli_tls_options(const cli_opts *o, cli_tls *t, portls_context_options *c,
                    portls_protocols *alpn, portls_protocols *npn) {
  memset(t, 0, sizeof(*t));
  const cli_value *v = o->v;

  /* Files go to the library by name, so that its errors name them (and
   * serve's SIGHUP reload reads them again). */
  int rc = 0;
  if (v[OPT_KEY].count) c->key_file = v[OPT_KEY].str[0];
  if (v[OPT_CERT].count) c->cert_file = v[OPT_CERT].str[0];
  if (v[OPT_CA].count) c->ca_file = v[OPT_CA].str[0];
  if (v[OPT_CRL].count) c->crl_file = v[OPT_CRL].str[0];
  if (v[OPT_PFX].count) c->pfx_file = v[OPT_PFX].str[0];
  c->ca_path = cli_str(o, OPT_CA_PATH, c->ca_path);
  if (rc == 0) rc = read_more(v, OPT_KEY, "key_file", t->key, &c->key, &c->key_count);
  if (rc == 0) rc = read_more(v, OPT_CERT, "cert_file", t->cert, &c->cert, &c->cert_count);
  if (rc == 0) rc = read_more(v, OPT_CA, "ca_file", t->ca, &c->ca, &c->ca_count);
  if (rc == 0) rc = read_more(v, OPT_CRL, "crl_file", t->crl, &c->crl, &c->crl_count);
  if (rc) return rc;
  if (v[OPT_DHPARAM].count) c->dhparam = v[OPT_DHPARAM].file[0];
  c->passphrase = cli_str(o, OPT_PASSPHRASE, c->passphrase);
  c->ciphers = cli_str(o, OPT_CIPHERS, c->ciphers);
  c->ecdh_curve = cli_str(o, OPT_ECDH_CURVE, c->ecdh_curve);
  c->secure_protocol = cli_str(o, OPT_SECURE_PROTOCOL, c->secure_protocol);
  if (cli_has(o, OPT_MIN_VERSION))
    c->min_version = portls_tls_version_from_name(cli_str(o, OPT_MIN_VERSION, NULL));
  if (cli_has(o, OPT_MAX_VERSION))
    c->max_version = portls_tls_version_from_name(cli_str(o, OPT_MAX_VERSION, NULL));
  if (cli_has(o, OPT_HONOR_CIPHER_ORDER))
    c->honor_cipher_order = (int)v[OPT_HONOR_CIPHER_ORDER].num;
  if (cli_has(o, OPT_SESSION_TIMEOUT)) c->session_timeout = (int)v[OPT_SESSION_TIMEOUT].num;
  if (cli_has(o, OPT_SESSION_ID_CONTEXT))
    c->session_id_context = cli_str(o, OPT_SESSION_ID_CONTEXT, NULL);

  const char *hex = cli_str(o, OPT_TICKET_KEYS, NULL);
  if (hex) {
    /* Only the text is checked here; the length (48 bytes) is the library's call. */
    size_t len = strlen(hex);
    if (len % 2 || len / 2 > sizeof(t->ticket_keys)) {
      ev_errorf(PORTLS_ETICKET_KEYS, "--ticket-keys: expected 96 hex digits, got %zu", len);
      return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < len; i += 2) {
      int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
      if (hi < 0 || lo < 0) {
        ev_error(PORTLS_ETICKET_KEYS, "--ticket-keys: not a hex string");
        return CLI_EXIT_USAGE;
      }
      t->ticket_keys[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    c->ticket_keys.base = t->ticket_keys;
    c->ticket_keys.len = len / 2;
  }

  c->sigalgs = cli_str(o, OPT_SIGALGS, c->sigalgs);
  const char *ekm = cli_str(o, OPT_EXPORT_KEYING_MATERIAL, NULL);
  size_t ekm_len;
  const char *ekm_label;
  if (ekm != NULL && cli_ekm_spec(ekm, &ekm_len, &ekm_label) < 0) {
    ev_errorf(PORTLS_EINVAL,
              "--export-keying-material: expected LENGTH:LABEL with LENGTH 1 to %d, got '%s'",
              CLI_EKM_MAX, ekm);
    return CLI_EXIT_USAGE;
  }
  if (ekm != NULL && cli_require_cap("--export-keying-material", PORTLS_CAP_EXPORTER))
    return CLI_EXIT_USAGE;

  rc = split_list(o, OPT_ALPN, &t->alpn, alpn);
  if (rc == 0) rc = split_list(o, OPT_NPN, &t->npn, npn);
  portls_protocols accepted;
  if (rc == 0) rc = split_list(o, OPT_ALPN_CALLBACK, &t->alpn_callback, &accepted);
  return rc;
}

int cli_ekm_spec(const char *spec, size_t *length, const char **label) {
  const char *colon = strchr(spec, ':');
  size_t n = 0;
  if (colon == NULL || colon == spec || colon[1] == '\0') return PORTLS_EINVAL;
  for (const char *p = spec; p < colon; p++) {
    if (*p < '0' || *p > '9' || n > CLI_EKM_MAX) return PORTLS_EINVAL;
    n = n * 10 + (size_t)(*p - '0');
  }
  if (n < 1 || n > CLI_EKM_MAX) return PORTLS_EINVAL;
  *length = n;
  *label = colon + 1;
  return 0;
}

void cli_tls_free(cli_tls *t) {
  free(t->alpn.copy);
  free(t->npn.copy);
  free(t->alpn_callback.copy);
  for (int i = 0; i < CLI_MANY; i++) {
    portls_free((void *)t->key[i].base);
    portls_free((void *)t->cert[i].base);
    portls_free((void *)t->ca[i].base);
    portls_free((void *)t->crl[i].base);
  }
  memset(t, 0, sizeof(*t));
}

int cli_require_cap(const char *option, portls_cap cap) {
  if (portls_has_capability(cap)) return 0;
  ev_errorf(PORTLS_ENOTSUP, "%s: needs capability '%s', which backend '%s' lacks", option,
            portls_capability_name(cap), portls_backend_name());
  return CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------------------ */
/* --psk IDENTITY:HEX and --psk-hint: Node's pskCallback and pskIdentityHint */

static int psk_fail(const char *text, const char *why) {
  ev_errorf(PORTLS_EINVAL, "--psk: %s in '%s' (expected IDENTITY:HEX)", why, text);
  return CLI_EXIT_USAGE;
}

static int psk_parse(const char *text, cli_psk *p) {
  const char *colon = strrchr(text, ':'); /* the identity may hold ':', the hex cannot */
  if (colon == NULL) return psk_fail(text, "no ':'");
  size_t idlen = (size_t)(colon - text);
  if (idlen == 0) return psk_fail(text, "empty identity");
  if (idlen > PORTLS_PSK_MAX_IDENTITY) return psk_fail(text, "identity longer than 128 bytes");
  const char *hex = colon + 1;
  size_t len = strlen(hex);
  if (len == 0) return psk_fail(text, "empty key");
  if (len % 2) return psk_fail(text, "odd number of hex digits");
  if (len / 2 > sizeof p->key) return psk_fail(text, "key longer than 256 bytes");
  for (size_t i = 0; i < len; i += 2) {
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return psk_fail(text, "key is not hex");
    p->key[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  memcpy(p->identity, text, idlen);
  p->identity[idlen] = '\0';
  p->key_len = len / 2;
  return 0;
}

static int psk_client_cb(portls_socket *sock, const char *hint, portls_psk *psk, void *user) {
  const cli_tls *t = user;
  (void)sock;
  jw *w = ev_begin("pskCallback");
  jw_kstring(w, "hint", hint);
  jw_kstring(w, "identity", t->psk[0].identity);
  ev_end(w);
  memcpy(psk->identity, t->psk[0].identity, sizeof psk->identity);
  memcpy(psk->key, t->psk[0].key, t->psk[0].key_len);
  psk->key_len = t->psk[0].key_len;
  return 1;
}

static int psk_server_cb(portls_socket *sock, const char *identity, portls_psk *psk, void *user) {
  const cli_tls *t = user;
  (void)sock;
  int found = -1;
  for (int i = 0; i < t->psk_count && found < 0; i++)
    if (strcmp(t->psk[i].identity, identity) == 0) found = i;
  jw *w = ev_begin("pskCallback");
  jw_kstring(w, "identity", identity);
  jw_kbool(w, "known", found >= 0);
  ev_end(w);
  if (found < 0) return 0;
  memcpy(psk->key, t->psk[found].key, t->psk[found].key_len);
  psk->key_len = t->psk[found].key_len;
  return 1;
}

int cli_psk_options(const cli_opts *o, cli_tls *t, portls_tls_options *tls, int is_server) {
  const cli_value *v = &o->v[OPT_PSK];
  if (!is_server && v->count > 1) {
    ev_error(PORTLS_EINVAL, "--psk: given twice (a client has one identity)");
    return CLI_EXIT_USAGE;
  }
  for (int i = 0; i < v->count; i++) {
    int rc = psk_parse(v->str[i], &t->psk[i]);
    if (rc) return rc;
  }
  t->psk_count = v->count;
  if (cli_has(o, OPT_PSK_HINT) && t->psk_count == 0) {
    ev_error(PORTLS_EINVAL, "--psk-hint: needs --psk");
    return CLI_EXIT_USAGE;
  }
  if (t->psk_count == 0) return 0;
  int rc = cli_require_cap("--psk", PORTLS_CAP_PSK);
  if (rc == 0 && cli_has(o, OPT_PSK_HINT)) rc = cli_require_cap("--psk-hint", PORTLS_CAP_PSK_HINT);
  if (rc) return rc;
  if (is_server) {
    tls->psk_server_callback = psk_server_cb;
    tls->psk_identity_hint = cli_str(o, OPT_PSK_HINT, NULL);
  } else {
    tls->psk_client_callback = psk_client_cb;
  }
  tls->psk_user = t;
  return 0;
}
