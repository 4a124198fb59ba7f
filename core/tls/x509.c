/* portls core: DER certificates into portls_cert, formatted as Node v20
 * (on OpenSSL 3) prints them in getPeerCertificate().
 *
 * Parsing happens in two stages. portls__x509_parse checks the whole
 * certificate and records where its parts are; the formatter then walks
 * those parts twice with the same code, first only counting bytes, then
 * writing into one allocation of exactly that size. So a portls_cert (or a
 * whole chain) is one block that portls_cert_free releases at once, and the
 * formatter never meets input that the checker has not accepted.
 */
#include "tls/x509.h"

#include <stdio.h>
#include <string.h>

#include "portls/cert.h"
#include "tls/der.h"
#include "util/pem.h"
#include "util/utf8.h"
#include "util/util.h"

/* ------------------------------------------------------------------------ */
/* Tables: OpenSSL's names for the OIDs that Node shows by name.            */

typedef struct oid_name {
  const char *oid;
  const char *name;
} oid_name;

/* OpenSSL's short names (OBJ_nid2sn) for attribute types found in names.
 * Anything else is shown as its dotted OID, as OpenSSL does for OIDs it
 * does not know. */
static const oid_name dn_names[] = {
    {"2.5.4.3", "CN"},
    {"2.5.4.6", "C"},
    {"2.5.4.7", "L"},
    {"2.5.4.8", "ST"},
    {"2.5.4.10", "O"},
    {"2.5.4.11", "OU"},
    {"1.2.840.113549.1.9.1", "emailAddress"},
    {"0.9.2342.19200300.100.1.25", "DC"},
    {"0.9.2342.19200300.100.1.1", "UID"},
    {"2.5.4.4", "SN"},
    {"2.5.4.5", "serialNumber"},
    {"2.5.4.9", "street"},
    {"2.5.4.12", "title"},
    {"2.5.4.13", "description"},
    {"2.5.4.14", "searchGuide"},
    {"2.5.4.15", "businessCategory"},
    {"2.5.4.16", "postalAddress"},
    {"2.5.4.17", "postalCode"},
    {"2.5.4.18", "postOfficeBox"},
    {"2.5.4.19", "physicalDeliveryOfficeName"},
    {"2.5.4.20", "telephoneNumber"},
    {"2.5.4.21", "telexNumber"},
    {"2.5.4.22", "teletexTerminalIdentifier"},
    {"2.5.4.23", "facsimileTelephoneNumber"},
    {"2.5.4.24", "x121Address"},
    {"2.5.4.25", "internationaliSDNNumber"},
    {"2.5.4.26", "registeredAddress"},
    {"2.5.4.27", "destinationIndicator"},
    {"2.5.4.28", "preferredDeliveryMethod"},
    {"2.5.4.29", "presentationAddress"},
    {"2.5.4.30", "supportedApplicationContext"},
    {"2.5.4.31", "member"},
    {"2.5.4.32", "owner"},
    {"2.5.4.33", "roleOccupant"},
    {"2.5.4.34", "seeAlso"},
    {"2.5.4.35", "userPassword"},
    {"2.5.4.36", "userCertificate"},
    {"2.5.4.37", "cACertificate"},
    {"2.5.4.38", "authorityRevocationList"},
    {"2.5.4.39", "certificateRevocationList"},
    {"2.5.4.40", "crossCertificatePair"},
    {"2.5.4.41", "name"},
    {"2.5.4.42", "GN"},
    {"2.5.4.43", "initials"},
    {"2.5.4.44", "generationQualifier"},
    {"2.5.4.45", "x500UniqueIdentifier"},
    {"2.5.4.46", "dnQualifier"},
    {"2.5.4.47", "enhancedSearchGuide"},
    {"2.5.4.48", "protocolInformation"},
    {"2.5.4.49", "distinguishedName"},
    {"2.5.4.50", "uniqueMember"},
    {"2.5.4.51", "houseIdentifier"},
    {"2.5.4.52", "supportedAlgorithms"},
    {"2.5.4.53", "deltaRevocationList"},
    {"2.5.4.54", "dmdName"},
    {"2.5.4.65", "pseudonym"},
    {"2.5.4.72", "role"},
    {"2.5.4.97", "organizationIdentifier"},
    {"2.5.4.98", "c3"},
    {"2.5.4.99", "n3"},
    {"2.5.4.100", "dnsName"},
    {"1.2.840.113549.1.9.2", "unstructuredName"},
    {"1.2.840.113549.1.9.3", "contentType"},
    {"1.2.840.113549.1.9.4", "messageDigest"},
    {"1.2.840.113549.1.9.5", "signingTime"},
    {"1.2.840.113549.1.9.6", "countersignature"},
    {"1.2.840.113549.1.9.7", "challengePassword"},
    {"1.2.840.113549.1.9.8", "unstructuredAddress"},
    {"1.2.840.113549.1.9.9", "extendedCertificateAttributes"},
    {"1.2.840.113549.1.9.20", "friendlyName"},
    {"1.2.840.113549.1.9.21", "localKeyID"},
    {"1.3.6.1.4.1.311.60.2.1.1", "jurisdictionL"},
    {"1.3.6.1.4.1.311.60.2.1.2", "jurisdictionST"},
    {"1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC"},
    {"0.9.2342.19200300.100.1.2", "textEncodedORAddress"},
    {"0.9.2342.19200300.100.1.3", "mail"},
    {"0.9.2342.19200300.100.1.4", "info"},
    {"0.9.2342.19200300.100.1.5", "favouriteDrink"},
    {"0.9.2342.19200300.100.1.6", "roomNumber"},
    {"0.9.2342.19200300.100.1.7", "photo"},
    {"0.9.2342.19200300.100.1.8", "userClass"},
    {"0.9.2342.19200300.100.1.9", "host"},
    {"0.9.2342.19200300.100.1.10", "manager"},
    {"0.9.2342.19200300.100.1.11", "documentIdentifier"},
    {"0.9.2342.19200300.100.1.12", "documentTitle"},
    {"0.9.2342.19200300.100.1.13", "documentVersion"},
    {"0.9.2342.19200300.100.1.14", "documentAuthor"},
    {"0.9.2342.19200300.100.1.15", "documentLocation"},
    {"0.9.2342.19200300.100.1.20", "homeTelephoneNumber"},
    {"0.9.2342.19200300.100.1.21", "secretary"},
    {"0.9.2342.19200300.100.1.22", "otherMailbox"},
    {"0.9.2342.19200300.100.1.23", "lastModifiedTime"},
    {"0.9.2342.19200300.100.1.24", "lastModifiedBy"},
    {"0.9.2342.19200300.100.1.26", "aRecord"},
    {"0.9.2342.19200300.100.1.27", "pilotAttributeType27"},
    {"0.9.2342.19200300.100.1.28", "mXRecord"},
    {"0.9.2342.19200300.100.1.29", "nSRecord"},
    {"0.9.2342.19200300.100.1.30", "sOARecord"},
    {"0.9.2342.19200300.100.1.31", "cNAMERecord"},
    {"0.9.2342.19200300.100.1.37", "associatedDomain"},
    {"0.9.2342.19200300.100.1.38", "associatedName"},
    {"0.9.2342.19200300.100.1.39", "homePostalAddress"},
    {"0.9.2342.19200300.100.1.40", "personalTitle"},
    {"0.9.2342.19200300.100.1.41", "mobileTelephoneNumber"},
    {"0.9.2342.19200300.100.1.42", "pagerTelephoneNumber"},
    {"0.9.2342.19200300.100.1.43", "friendlyCountryName"},
    {"0.9.2342.19200300.100.1.44", "uid"},
    {"0.9.2342.19200300.100.1.45", "organizationalStatus"},
    {"0.9.2342.19200300.100.1.46", "janetMailbox"},
    {"0.9.2342.19200300.100.1.47", "mailPreferenceOption"},
    {"0.9.2342.19200300.100.1.48", "buildingName"},
    {"0.9.2342.19200300.100.1.49", "dSAQuality"},
    {"0.9.2342.19200300.100.1.50", "singleLevelQuality"},
    {"0.9.2342.19200300.100.1.51", "subtreeMinimumQuality"},
    {"0.9.2342.19200300.100.1.52", "subtreeMaximumQuality"},
    {"0.9.2342.19200300.100.1.53", "personalSignature"},
    {"0.9.2342.19200300.100.1.54", "dITRedirect"},
    {"0.9.2342.19200300.100.1.55", "audio"},
    {"0.9.2342.19200300.100.1.56", "documentPublisher"},
};

/* Access methods by OpenSSL's long name (i2t_ASN1_OBJECT), as infoAccess
 * keys show them. */
static const oid_name access_methods[] = {
    {"1.3.6.1.5.5.7.48.1", "OCSP"},
    {"1.3.6.1.5.5.7.48.2", "CA Issuers"},
    {"1.3.6.1.5.5.7.48.3", "AD Time Stamping"},
    {"1.3.6.1.5.5.7.48.4", "ad dvcs"},
    {"1.3.6.1.5.5.7.48.5", "CA Repository"},
    {"1.3.6.1.5.5.7.48.10", "RPKI Manifest"},
    {"1.3.6.1.5.5.7.48.11", "Signed Object"},
    {"1.3.6.1.5.5.7.48.13", "RPKI Notify"},
};

/* otherName types Node prints (OpenSSL 3 GENERAL_NAME_print); utf8 says
 * whether the value must be a UTF8String (else an IA5String). */
static const struct {
  const char *oid;
  const char *prefix;
  int utf8;
} other_names[] = {
    {"1.3.6.1.5.5.7.8.9", "SmtpUTF8Mailbox", 1}, {"1.3.6.1.5.5.7.8.5", "XmppAddr", 1},
    {"1.3.6.1.5.5.7.8.7", "SRVName", 0},         {"1.3.6.1.4.1.311.20.2.3", "UPN", 1},
    {"1.3.6.1.5.5.7.8.8", "NAIRealm", 1},
};

static const struct {
  const char *oid;
  const char *asn1; /* OBJ_nid2sn */
  const char *nist; /* EC_curve_nid2nist, NULL when it has none */
  int bits;         /* EC_GROUP_order_bits */
} curves[] = {
    {"1.2.840.10045.3.1.7", "prime256v1", "P-256", 256},
    {"1.3.132.0.34", "secp384r1", "P-384", 384},
    {"1.3.132.0.35", "secp521r1", "P-521", 521},
    {"1.2.840.10045.3.1.1", "prime192v1", "P-192", 192},
    {"1.3.132.0.33", "secp224r1", "P-224", 224},
    {"1.3.132.0.10", "secp256k1", NULL, 256},
    {"1.3.132.0.31", "secp192k1", NULL, 192},
    {"1.3.132.0.32", "secp224k1", NULL, 225},
    {"1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", NULL, 256},
    {"1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1", NULL, 384},
    {"1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1", NULL, 512},
    {"1.3.36.3.3.2.8.1.1.8", "brainpoolP256t1", NULL, 256},
    {"1.3.36.3.3.2.8.1.1.12", "brainpoolP384t1", NULL, 384},
    {"1.3.36.3.3.2.8.1.1.14", "brainpoolP512t1", NULL, 512},
};

static const struct {
  const char *oid;
  int type;
  const char *name;
} key_types[] = {
    {"1.2.840.113549.1.1.1", PORTLS__KEY_RSA, "RSA"},
    {"1.2.840.10045.2.1", PORTLS__KEY_EC, "EC"},
    {"1.3.101.112", PORTLS__KEY_ED25519, "Ed25519"},
    {"1.3.101.113", PORTLS__KEY_ED448, "Ed448"},
    {"1.3.101.110", PORTLS__KEY_X25519, "X25519"},
    {"1.3.101.111", PORTLS__KEY_X448, "X448"},
    {"1.2.840.113549.1.1.10", PORTLS__KEY_RSA_PSS, "RSA-PSS"},
    {"1.2.840.10040.4.1", PORTLS__KEY_DSA, "DSA"},
    {"1.2.840.113549.1.3.1", PORTLS__KEY_DH, "DH"},
    {"1.2.840.10046.2.1", PORTLS__KEY_DH, "DH"},
};

#define OID_SAN "2.5.29.17"
#define OID_BC "2.5.29.19"
#define OID_KU "2.5.29.15"
#define OID_EKU "2.5.29.37"
#define OID_AIA "1.3.6.1.5.5.7.1.1"

/* keyUsage keyCertSign, as OpenSSL numbers it (KU_KEY_CERT_SIGN). */
#define KU_KEY_CERT_SIGN 0x0004u

/* A DirectoryName nests a Name inside a certificate's extensions; other
 * general names we do not interpret are only checked to this depth. */
#define MAX_OPAQUE_DEPTH 16

static const char *oid_lookup(const oid_name *t, size_t n, const char *dotted) {
  size_t i;
  for (i = 0; i < n; i++)
    if (strcmp(t[i].oid, dotted) == 0) return t[i].name;
  return NULL;
}

/* Dotted text of validated OID contents; "" if it somehow does not fit. */
static void oid_text(const portls__der_tlv *oid, char *buf, size_t cap) {
  if (portls__der_oid_text(oid->val, oid->len, buf, cap) < 0) buf[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Text: what OpenSSL's ASN1_STRING_to_UTF8 accepts, and UTF-8 output.      */

enum { VAL_BAD = -1, VAL_LATIN1, VAL_UTF8, VAL_BMP, VAL_UCS4, VAL_DUMP };

/* How a name attribute's value turns into text. The accepted set is
 * OpenSSL's: the types its X509_NAME decoder admits (B_ASN1_PRINTABLE),
 * and among them the ones whose contents its canonicalisation can convert
 * (a certificate that fails that is rejected by OpenSSL as a whole). The
 * rest of the admitted types have no text form; we show them as RFC 4514's
 * "#" and hex of the DER, where Node drops the whole subject. */
static int value_kind(const portls__der_tlv *v) {
  size_t i;
  if (PORTLS__DER_TAG_CLASS(v->tag) != PORTLS__DER_CLASS_UNIVERSAL) return VAL_BAD;
  switch (PORTLS__DER_TAG_NUMBER(v->tag)) {
  case 12: /* UTF8String */
    if (PORTLS__DER_TAG_CONSTRUCTED(v->tag)) return VAL_BAD;
    for (i = 0; i < v->len;) {
      uint32_t cp;
      size_t n = portls__utf8_decode(v->val + i, v->len - i, &cp);
      if (n == 0) return VAL_BAD;
      i += n;
    }
    return VAL_UTF8;
  case 18: /* NumericString */
  case 19: /* PrintableString */
  case 20: /* T61String: OpenSSL reads it as Latin-1 */
  case 22: /* IA5String */
    return PORTLS__DER_TAG_CONSTRUCTED(v->tag) ? VAL_BAD : VAL_LATIN1;
  case 28: /* UniversalString: UCS-4 */
    if (PORTLS__DER_TAG_CONSTRUCTED(v->tag) || v->len % 4 != 0) return VAL_BAD;
    for (i = 0; i < v->len; i += 4) {
      uint32_t c = ((uint32_t)v->val[i] << 24) | ((uint32_t)v->val[i + 1] << 16) |
                   ((uint32_t)v->val[i + 2] << 8) | v->val[i + 3];
      if (!portls__utf8_is_scalar(c)) return VAL_BAD;
    }
    return VAL_UCS4;
  case 30: /* BMPString: UCS-2, so surrogates are errors as in OpenSSL */
    if (PORTLS__DER_TAG_CONSTRUCTED(v->tag) || v->len % 2 != 0) return VAL_BAD;
    for (i = 0; i < v->len; i += 2) {
      uint32_t c = ((uint32_t)v->val[i] << 8) | v->val[i + 1];
      if (!portls__utf8_is_scalar(c)) return VAL_BAD;
    }
    return VAL_BMP;
  case 3: { /* BIT STRING */
    const uint8_t *b;
    size_t n;
    unsigned u;
    if (PORTLS__DER_TAG_CONSTRUCTED(v->tag) || portls__der_get_bits(v, &b, &n, &u) != 0)
      return VAL_BAD;
    return VAL_DUMP;
  }
  case 7:
  case 8:
  case 9:
  case 11:
  case 13:
  case 14:
  case 15:
  case 16:
  case 29:
    if (PORTLS__DER_TAG_CONSTRUCTED(v->tag) &&
        portls__der_check_tree(v->val, v->len, MAX_OPAQUE_DEPTH) != 0)
      return VAL_BAD;
    return VAL_DUMP;
  default:
    return VAL_BAD;
  }
}

/* The code point at index i of a validated value of kind k; *adv is the
 * number of bytes it used. */
static uint32_t value_char(int k, const uint8_t *p, size_t n, size_t i, size_t *adv) {
  uint32_t c = 0;
  switch (k) {
  case VAL_UTF8:
    *adv = portls__utf8_decode(p + i, n - i, &c);
    if (*adv == 0) { /* cannot happen after value_kind; keep moving */
      *adv = 1;
      c = 0xFFFD;
    }
    return c;
  case VAL_BMP:
    *adv = 2;
    return ((uint32_t)p[i] << 8) | p[i + 1];
  case VAL_UCS4:
    *adv = 4;
    return ((uint32_t)p[i] << 24) | ((uint32_t)p[i + 1] << 16) | ((uint32_t)p[i + 2] << 8) |
           p[i + 3];
  default:
    *adv = 1;
    return p[i];
  }
}

/* ------------------------------------------------------------------------ */
/* Checking the certificate.                                                */

typedef struct name_iter {
  portls__der rdns;
  portls__der rdn;
  int in_rdn;
  size_t set; /* index of the current RDN */
} name_iter;

static void name_iter_init(name_iter *it, const portls__der_tlv *name) {
  portls__der_init_tlv(&it->rdns, name);
  it->in_rdn = 0;
  it->set = 0;
}

/* The next attribute of the name, in certificate order: 1 and the OID and
 * value, 0 at the end, -1 if malformed. */
static int name_iter_next(name_iter *it, portls__der_tlv *oid, portls__der_tlv *val) {
  for (;;) {
    if (it->in_rdn) {
      if (!portls__der_at_end(&it->rdn)) {
        portls__der ava;
        if (portls__der_enter(&it->rdn, PORTLS__DER_SEQUENCE, &ava) != 0 ||
            portls__der_expect(&ava, PORTLS__DER_OID, oid) != 0 ||
            portls__der_check_oid(oid->val, oid->len) != 0 || portls__der_read(&ava, val) != 0 ||
            portls__der_finish(&ava) != 0)
          return -1;
        return 1;
      }
      it->in_rdn = 0;
      it->set++;
    }
    if (portls__der_at_end(&it->rdns)) return 0;
    if (portls__der_enter(&it->rdns, PORTLS__DER_SET, &it->rdn) != 0) return -1;
    it->in_rdn = 1;
  }
}

static int check_name(const portls__der_tlv *name, size_t *count) {
  name_iter it;
  portls__der_tlv oid, val;
  int r;
  size_t n = 0;
  if (name->tag != PORTLS__DER_SEQUENCE) return -1;
  name_iter_init(&it, name);
  while ((r = name_iter_next(&it, &oid, &val)) == 1) {
    char text[PORTLS__DER_OID_TEXT_MAX];
    /* Keys are C strings built from this text, so it must fit. */
    if (portls__der_oid_text(oid.val, oid.len, text, sizeof(text)) < 0) return -1;
    if (value_kind(&val) == VAL_BAD) return -1;
    n++;
  }
  if (count) *count = n;
  return r;
}

static int check_general_name(const portls__der_tlv *gn) {
  portls__der in;
  portls__der_tlv t;
  if (PORTLS__DER_TAG_CLASS(gn->tag) != PORTLS__DER_CLASS_CONTEXT) return -1;
  switch (PORTLS__DER_TAG_NUMBER(gn->tag)) {
  case 0: /* otherName: type-id OID, [0] EXPLICIT value */
    if (gn->tag != PORTLS__DER_CTX_CONS(0)) return -1;
    portls__der_init_tlv(&in, gn);
    if (portls__der_expect(&in, PORTLS__DER_OID, &t) != 0 ||
        portls__der_check_oid(t.val, t.len) != 0 ||
        portls__der_expect(&in, PORTLS__DER_CTX_CONS(0), &t) != 0 || portls__der_finish(&in) != 0)
      return -1;
    {
      portls__der_tlv v;
      if (portls__der_parse_one(t.val, t.len, &v) != 0) return -1;
      if (PORTLS__DER_TAG_CONSTRUCTED(v.tag) &&
          portls__der_check_tree(v.val, v.len, MAX_OPAQUE_DEPTH) != 0)
        return -1;
    }
    return 0;
  case 1: /* rfc822Name */
  case 2: /* dNSName */
  case 6: /* uniformResourceIdentifier */
  case 7: /* iPAddress */
    return gn->tag == PORTLS__DER_CTX(PORTLS__DER_TAG_NUMBER(gn->tag)) ? 0 : -1;
  case 8: /* registeredID */
    if (gn->tag != PORTLS__DER_CTX(8)) return -1;
    {
      char text[PORTLS__DER_OID_TEXT_MAX];
      return portls__der_oid_text(gn->val, gn->len, text, sizeof(text)) < 0 ? -1 : 0;
    }
  case 3: /* x400Address */
  case 5: /* ediPartyName */
    if (!PORTLS__DER_TAG_CONSTRUCTED(gn->tag)) return -1;
    return portls__der_check_tree(gn->val, gn->len, MAX_OPAQUE_DEPTH);
  case 4: /* directoryName: [4] EXPLICIT Name */
    if (gn->tag != PORTLS__DER_CTX_CONS(4) || portls__der_parse_one(gn->val, gn->len, &t) != 0)
      return -1;
    return check_name(&t, NULL);
  default:
    return -1;
  }
}

/* A SEQUENCE OF GeneralName: every element checked, and counted. */
static int check_general_names(const portls__der_tlv *seq, size_t *count) {
  portls__der d;
  portls__der_tlv gn;
  size_t n = 0;
  portls__der_init_tlv(&d, seq);
  while (!portls__der_at_end(&d)) {
    if (portls__der_read(&d, &gn) != 0 || check_general_name(&gn) != 0) return -1;
    n++;
  }
  *count = n;
  return 0;
}

static int check_aia(const portls__der_tlv *seq, size_t *count) {
  portls__der d;
  size_t n = 0;
  portls__der_init_tlv(&d, seq);
  while (!portls__der_at_end(&d)) {
    portls__der ad;
    portls__der_tlv oid, gn;
    char text[PORTLS__DER_OID_TEXT_MAX];
    if (portls__der_enter(&d, PORTLS__DER_SEQUENCE, &ad) != 0 ||
        portls__der_expect(&ad, PORTLS__DER_OID, &oid) != 0 ||
        portls__der_oid_text(oid.val, oid.len, text, sizeof(text)) < 0 ||
        portls__der_read(&ad, &gn) != 0 || check_general_name(&gn) != 0 ||
        portls__der_finish(&ad) != 0)
      return -1;
    n++;
  }
  *count = n;
  return 0;
}

static int check_eku(const portls__der_tlv *seq, size_t *count) {
  portls__der d;
  size_t n = 0;
  portls__der_init_tlv(&d, seq);
  while (!portls__der_at_end(&d)) {
    portls__der_tlv oid;
    char text[PORTLS__DER_OID_TEXT_MAX];
    if (portls__der_expect(&d, PORTLS__DER_OID, &oid) != 0 ||
        portls__der_oid_text(oid.val, oid.len, text, sizeof(text)) < 0)
      return -1;
    n++;
  }
  *count = n;
  return 0;
}

static int cert_error(portls_error *err, const char *what) {
  return portls__err(err, PORTLS_ECERT, "malformed certificate: %s", what);
}

/* Reads one extension value: its contents are exactly one element. */
static int ext_value(const portls__der_tlv *octets, uint32_t tag, portls__der_tlv *out) {
  return portls__der_parse_one(octets->val, octets->len, out) == 0 && out->tag == tag ? 0 : -1;
}

static int parse_extension(portls__x509 *x, const portls__der_tlv *ext, portls_error *err) {
  portls__der d;
  portls__der_tlv oid, crit, val, inner;
  char text[PORTLS__DER_OID_TEXT_MAX];
  int critical = 0;
  int r;

  portls__der_init_tlv(&d, ext);
  if (portls__der_expect(&d, PORTLS__DER_OID, &oid) != 0 ||
      portls__der_oid_text(oid.val, oid.len, text, sizeof(text)) < 0)
    return cert_error(err, "extension id");
  r = portls__der_optional(&d, PORTLS__DER_BOOLEAN, &crit);
  if (r < 0 || (r == 1 && portls__der_get_bool(&crit, &critical) != 0))
    return cert_error(err, "extension critical flag");
  if (portls__der_expect(&d, PORTLS__DER_OCTET_STRING, &val) != 0 || portls__der_finish(&d) != 0)
    return cert_error(err, "extension");

  /* RFC 5280 forbids repeating an extension, and OpenSSL marks such a
   * certificate invalid; for the ones we show, taking either copy would be
   * a guess, so we refuse. */
  if (strcmp(text, OID_SAN) == 0) {
    if (x->has_san) return cert_error(err, "repeated subjectAltName");
    if (ext_value(&val, PORTLS__DER_SEQUENCE, &inner) != 0 ||
        check_general_names(&inner, &x->san_count) != 0)
      return cert_error(err, "subjectAltName");
    x->has_san = 1;
    x->san_seq = inner;
  } else if (strcmp(text, OID_AIA) == 0) {
    if (x->has_aia) return cert_error(err, "repeated authorityInfoAccess");
    if (ext_value(&val, PORTLS__DER_SEQUENCE, &inner) != 0 || check_aia(&inner, &x->aia_count) != 0)
      return cert_error(err, "authorityInfoAccess");
    x->has_aia = 1;
    x->aia_seq = inner;
  } else if (strcmp(text, OID_EKU) == 0) {
    if (x->has_eku) return cert_error(err, "repeated extKeyUsage");
    if (ext_value(&val, PORTLS__DER_SEQUENCE, &inner) != 0 || check_eku(&inner, &x->eku_count) != 0)
      return cert_error(err, "extKeyUsage");
    x->has_eku = 1;
    x->eku_seq = inner;
  } else if (strcmp(text, OID_BC) == 0) {
    portls__der bc;
    portls__der_tlv t;
    int ca = 0;
    if (x->has_bc) return cert_error(err, "repeated basicConstraints");
    if (ext_value(&val, PORTLS__DER_SEQUENCE, &inner) != 0)
      return cert_error(err, "basicConstraints");
    portls__der_init_tlv(&bc, &inner);
    r = portls__der_optional(&bc, PORTLS__DER_BOOLEAN, &t);
    if (r < 0 || (r == 1 && portls__der_get_bool(&t, &ca) != 0))
      return cert_error(err, "basicConstraints");
    r = portls__der_optional(&bc, PORTLS__DER_INTEGER, &t);
    if (r < 0 || (r == 1 && portls__der_check_integer(&t) != 0) || portls__der_finish(&bc) != 0)
      return cert_error(err, "basicConstraints");
    x->has_bc = 1;
    x->bc_ca = ca;
  } else if (strcmp(text, OID_KU) == 0) {
    const uint8_t *bits;
    size_t n;
    unsigned unused;
    if (x->has_ku) return cert_error(err, "repeated keyUsage");
    if (ext_value(&val, PORTLS__DER_BIT_STRING, &inner) != 0 ||
        portls__der_get_bits(&inner, &bits, &n, &unused) != 0)
      return cert_error(err, "keyUsage");
    x->has_ku = 1;
    x->ku_bits = (n > 0 ? bits[0] : 0u) | (n > 1 ? (unsigned)bits[1] << 8 : 0u);
  }
  return 0;
}

/* Bits of a positive INTEGER's magnitude (BN_num_bits); 0 if not positive. */
static int integer_bits(const portls__der_tlv *t) {
  size_t i = 0;
  int bits;
  uint8_t b;
  if (t->len == 0 || (t->val[0] & 0x80)) return 0;
  while (i < t->len && t->val[i] == 0) i++;
  if (i == t->len || t->len - i > 0x7FFFFFF) return 0;
  b = t->val[i];
  bits = (int)((t->len - i - 1) * 8);
  while (b) {
    bits++;
    b >>= 1;
  }
  return bits;
}

/* Reads the parts of the key Node shows. A key that does not decode leaves
 * them unset without failing the certificate, as with OpenSSL, whose
 * certificate decoder tolerates a key it cannot use. */
static void parse_key(portls__x509 *x, const portls__der_tlv *params, int has_params) {
  char text[PORTLS__DER_OID_TEXT_MAX];
  size_t i;

  x->ec_curve = -1;
  oid_text(&x->key_alg, text, sizeof(text));
  for (i = 0; i < PORTLS__ARRAY_SIZE(key_types); i++)
    if (strcmp(key_types[i].oid, text) == 0) x->key_type = key_types[i].type;

  if (x->key_type == PORTLS__KEY_RSA) {
    portls__der_tlv seq;
    portls__der d;
    if (portls__der_parse_one(x->key, x->key_len, &seq) != 0 || seq.tag != PORTLS__DER_SEQUENCE)
      return;
    portls__der_init_tlv(&d, &seq);
    if (portls__der_expect(&d, PORTLS__DER_INTEGER, &x->rsa_n) != 0 ||
        portls__der_expect(&d, PORTLS__DER_INTEGER, &x->rsa_e) != 0 ||
        portls__der_finish(&d) != 0 || portls__der_check_integer(&x->rsa_n) != 0 ||
        portls__der_check_integer(&x->rsa_e) != 0 || integer_bits(&x->rsa_n) == 0 ||
        (x->rsa_e.val[0] & 0x80))
      return;
    x->rsa_ok = 1;
  } else if (x->key_type == PORTLS__KEY_EC && has_params) {
    if (params->tag == PORTLS__DER_OID) {
      oid_text(params, text, sizeof(text));
      for (i = 0; i < PORTLS__ARRAY_SIZE(curves); i++) {
        if (strcmp(curves[i].oid, text) == 0) {
          x->ec_curve = (int)i;
          x->ec_bits = curves[i].bits;
        }
      }
    } else if (params->tag == PORTLS__DER_SEQUENCE) {
      /* Explicit parameters: version, fieldID, curve, base, order, ... */
      portls__der d;
      portls__der_tlv t;
      portls__der_init_tlv(&d, params);
      if (portls__der_expect(&d, PORTLS__DER_INTEGER, &t) == 0 &&
          portls__der_expect(&d, PORTLS__DER_SEQUENCE, &t) == 0 &&
          portls__der_expect(&d, PORTLS__DER_SEQUENCE, &t) == 0 &&
          portls__der_expect(&d, PORTLS__DER_OCTET_STRING, &t) == 0 &&
          portls__der_expect(&d, PORTLS__DER_INTEGER, &t) == 0 &&
          portls__der_check_integer(&t) == 0)
        x->ec_bits = integer_bits(&t);
    }
  }
}

static int parse_spki(portls__x509 *x, portls_error *err) {
  portls__der d, alg;
  portls__der_tlv params, bits;
  unsigned unused;
  int has_params = 0;

  memset(&params, 0, sizeof(params));

  portls__der_init_tlv(&d, &x->spki);
  if (portls__der_enter(&d, PORTLS__DER_SEQUENCE, &alg) != 0 ||
      portls__der_expect(&alg, PORTLS__DER_OID, &x->key_alg) != 0 ||
      portls__der_check_oid(x->key_alg.val, x->key_alg.len) != 0)
    return cert_error(err, "public key algorithm");
  if (!portls__der_at_end(&alg)) {
    if (portls__der_read(&alg, &params) != 0 || portls__der_finish(&alg) != 0)
      return cert_error(err, "public key parameters");
    has_params = 1;
  }
  if (portls__der_expect(&d, PORTLS__DER_BIT_STRING, &bits) != 0 ||
      portls__der_get_bits(&bits, &x->key, &x->key_len, &unused) != 0 ||
      portls__der_finish(&d) != 0)
    return cert_error(err, "public key");
  parse_key(x, &params, has_params);
  return 0;
}

static int check_algorithm(const portls__der_tlv *seq) {
  portls__der d;
  portls__der_tlv oid, params;
  if (seq->tag != PORTLS__DER_SEQUENCE) return -1;
  portls__der_init_tlv(&d, seq);
  if (portls__der_expect(&d, PORTLS__DER_OID, &oid) != 0 ||
      portls__der_check_oid(oid.val, oid.len) != 0)
    return -1;
  if (!portls__der_at_end(&d) && portls__der_read(&d, &params) != 0) return -1;
  return portls__der_finish(&d);
}

static int is_time(const portls__der_tlv *t) {
  return t->tag == PORTLS__DER_UTC_TIME || t->tag == PORTLS__DER_GENERALIZED_TIME;
}

int portls__x509_parse(const void *der, size_t len, portls__x509 *x, portls_error *err) {
  portls__der_tlv cert, tbs_tlv, t;
  portls__der c, tbs, d;
  const uint8_t *bits;
  size_t nbits;
  unsigned unused;
  int r;

  if (der == NULL || x == NULL)
    return portls__err(err, PORTLS_EINVAL, "certificate: NULL argument");
  memset(x, 0, sizeof(*x));
  x->ec_curve = -1;
  x->der = (const uint8_t *)der;
  x->der_len = len;

  if (portls__der_parse_one(der, len, &cert) != 0 || cert.tag != PORTLS__DER_SEQUENCE)
    return cert_error(err, "not one DER SEQUENCE");
  portls__der_init_tlv(&c, &cert);
  if (portls__der_expect(&c, PORTLS__DER_SEQUENCE, &tbs_tlv) != 0)
    return cert_error(err, "tbsCertificate");
  if (portls__der_read(&c, &t) != 0 || check_algorithm(&t) != 0)
    return cert_error(err, "signatureAlgorithm");
  if (portls__der_expect(&c, PORTLS__DER_BIT_STRING, &t) != 0 ||
      portls__der_get_bits(&t, &bits, &nbits, &unused) != 0 || portls__der_finish(&c) != 0)
    return cert_error(err, "signatureValue");

  portls__der_init_tlv(&tbs, &tbs_tlv);
  r = portls__der_optional(&tbs, PORTLS__DER_CTX_CONS(0), &t);
  if (r < 0) return cert_error(err, "version");
  if (r == 1) {
    portls__der_tlv v;
    if (portls__der_parse_one(t.val, t.len, &v) != 0 || v.tag != PORTLS__DER_INTEGER ||
        portls__der_get_long(&v, &x->version) != 0 || x->version < 0 || x->version > 2)
      return cert_error(err, "version");
  }
  if (portls__der_expect(&tbs, PORTLS__DER_INTEGER, &x->serial) != 0 ||
      portls__der_check_integer(&x->serial) != 0)
    return cert_error(err, "serialNumber");
  if (portls__der_read(&tbs, &t) != 0 || check_algorithm(&t) != 0)
    return cert_error(err, "signature");
  if (portls__der_read(&tbs, &x->issuer) != 0 || check_name(&x->issuer, &x->issuer_count) != 0)
    return cert_error(err, "issuer");
  if (portls__der_enter(&tbs, PORTLS__DER_SEQUENCE, &d) != 0 ||
      portls__der_read(&d, &x->not_before) != 0 || !is_time(&x->not_before) ||
      portls__der_read(&d, &x->not_after) != 0 || !is_time(&x->not_after) ||
      portls__der_finish(&d) != 0)
    return cert_error(err, "validity");
  if (portls__der_read(&tbs, &x->subject) != 0 || check_name(&x->subject, &x->subject_count) != 0)
    return cert_error(err, "subject");
  if (portls__der_expect(&tbs, PORTLS__DER_SEQUENCE, &x->spki) != 0)
    return cert_error(err, "subjectPublicKeyInfo");
  if (parse_spki(x, err) != 0) return PORTLS_ECERT;
  /* issuerUniqueID [1] and subjectUniqueID [2]: IMPLICIT BIT STRINGs */
  for (r = 1; r <= 2; r++) {
    int got = portls__der_optional(&tbs, PORTLS__DER_CTX((uint32_t)r), &t);
    if (got < 0 || (got == 1 && portls__der_get_bits(&t, &bits, &nbits, &unused) != 0))
      return cert_error(err, "unique identifier");
  }
  r = portls__der_optional(&tbs, PORTLS__DER_CTX_CONS(3), &t);
  if (r < 0) return cert_error(err, "extensions");
  if (r == 1) {
    portls__der_tlv exts;
    portls__der e;
    if (portls__der_parse_one(t.val, t.len, &exts) != 0 || exts.tag != PORTLS__DER_SEQUENCE)
      return cert_error(err, "extensions");
    portls__der_init_tlv(&e, &exts);
    while (!portls__der_at_end(&e)) {
      portls__der_tlv ext;
      if (portls__der_expect(&e, PORTLS__DER_SEQUENCE, &ext) != 0)
        return cert_error(err, "extension");
      if (parse_extension(x, &ext, err) != 0) return PORTLS_ECERT;
    }
  }
  if (portls__der_finish(&tbs) != 0) return cert_error(err, "data after extensions");
  return 0;
}

int portls__x509_issued_by(const portls__x509 *cert, const portls__x509 *issuer) {
  size_t a = cert->issuer.hdr_len + cert->issuer.len;
  size_t b = issuer->subject.hdr_len + issuer->subject.len;
  return a == b && memcmp(cert->issuer.hdr, issuer->subject.hdr, a) == 0;
}

/* ------------------------------------------------------------------------ */
/* The arena: measured, then written, by the same code.                     */

typedef struct arena {
  uint8_t *base; /* NULL while measuring */
  size_t obj;    /* bytes used by structs and arrays, at the front */
  size_t obj_cap;
  size_t str; /* bytes used by strings and the DER, after the objects */
  size_t str_cap;
  size_t mark; /* where the string being built started */
  int overflow;
} arena;

#define ARENA_ALIGN (_Alignof(max_align_t))

static void *arena_obj(arena *a, size_t size, size_t count) {
  size_t off, n;
  if (count == 0 || a->overflow) return NULL;
  if (size > (size_t)-1 / count) {
    a->overflow = 1;
    return NULL;
  }
  n = size * count;
  off = (a->obj + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  if (off < a->obj || n > (size_t)-1 - off || (a->base && off + n > a->obj_cap)) {
    a->overflow = 1;
    return NULL;
  }
  a->obj = off + n;
  return a->base ? a->base + off : NULL;
}

static void put(arena *a, const void *p, size_t n) {
  if (a->overflow || n == 0) return;
  if (n > (size_t)-1 - a->str || (a->base && a->str + n > a->str_cap)) {
    a->overflow = 1;
    return;
  }
  if (a->base) memcpy(a->base + a->obj_cap + a->str, p, n);
  a->str += n;
}

static void put_ch(arena *a, char c) { put(a, &c, 1); }
static void put_s(arena *a, const char *s) { put(a, s, strlen(s)); }

static void str_begin(arena *a) { a->mark = a->str; }

static const char *str_end(arena *a) {
  put_ch(a, '\0');
  if (a->base == NULL || a->overflow) return NULL;
  return (const char *)(a->base + a->obj_cap + a->mark);
}

static void put_fmt(arena *a, const char *fmt, unsigned long long v) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), fmt, v);
  if (n > 0) put(a, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void put_hex(arena *a, const uint8_t *p, size_t n, int colons) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  for (i = 0; i < n; i++) {
    char b[3];
    b[0] = hex[p[i] >> 4];
    b[1] = hex[p[i] & 15];
    b[2] = ':';
    put(a, b, colons && i + 1 < n ? 3 : 2);
  }
}

/* Name bytes go out through a UTF-8 sanitiser: what V8's
 * String::NewFromUtf8 does to the bytes OpenSSL printed (each maximal
 * invalid subpart becomes U+FFFD), plus NUL becoming U+FFFD, because our
 * strings are NUL-terminated and a NUL would cut a name short
 * ("evil.com\0.good.com"). */
static void u8_byte(arena *a, portls__utf8_stream *s, uint8_t b) {
  uint8_t out[PORTLS__UTF8_STREAM_OUT];
  put(a, out, portls__utf8_stream_byte(s, b, out));
}

static void u8_end(arena *a, portls__utf8_stream *s) {
  uint8_t out[PORTLS__UTF8_STREAM_OUT];
  put(a, out, portls__utf8_stream_end(s, out));
}

static void put_cp(arena *a, uint32_t c) {
  uint8_t b[4];
  if (c == 0 || !portls__utf8_is_scalar(c)) c = 0xFFFD;
  put(a, b, portls__utf8_encode(c, b));
}

/* A name attribute's value as UTF-8 (ASN1_STRING_to_UTF8). */
static void put_dn_value(arena *a, const portls__der_tlv *v) {
  int k = value_kind(v);
  size_t i, adv;
  if (k == VAL_DUMP || k == VAL_BAD) {
    put_ch(a, '#');
    put_hex(a, v->hdr, v->hdr_len + v->len, 0);
    return;
  }
  for (i = 0; i < v->len; i += adv) put_cp(a, value_char(k, v->val, v->len, i, &adv));
}

/* ------------------------------------------------------------------------ */
/* General names, as Node's PrintGeneralName prints them.                   */

/* Node's PrintAltName writes a name as is when it is "safe", else as a JSON
 * string; the same bytes also feed infoAccess values, unescaped. An emitter
 * runs a producer of name bytes in one of these modes. */
enum { EM_CHECK, EM_RAW, EM_ESCAPE, EM_VALUE };

typedef struct emitter {
  arena *a;
  int mode;
  int utf8;   /* Node's utf8 flag: bytes >= 0x80 are text, not escaped */
  int unsafe; /* EM_CHECK's verdict */
  portls__utf8_stream u8;
} emitter;

typedef void (*producer_fn)(emitter *e, const void *ctx);

static void em_out(emitter *e, uint8_t b) { u8_byte(e->a, &e->u8, b); }

static void em_outs(emitter *e, const char *s) {
  while (*s) em_out(e, (uint8_t)*s++);
}

static void em_bytes(emitter *e, const uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    uint8_t c = p[i];
    switch (e->mode) {
    case EM_CHECK:
      if (c == '"' || c == '\\' || c == ',' || c == '\'')
        e->unsafe = 1;
      else if (e->utf8 ? (c < 0x20 || c == 0x7F) : (c < 0x20 || c > 0x7E))
        e->unsafe = 1;
      break;
    case EM_RAW:
      em_out(e, c);
      break;
    case EM_ESCAPE:
      if (c == '"' || c == '\\') {
        em_out(e, '\\');
        em_out(e, c);
      } else if ((c >= 0x20 && c != ',' && c <= 0x7E) || (e->utf8 && (c & 0x80))) {
        em_out(e, c);
      } else {
        char buf[8];
        snprintf(buf, sizeof(buf), "\\u%04x", (unsigned)c);
        em_outs(e, buf);
      }
      break;
    case EM_VALUE:
      if (e->utf8) {
        em_out(e, c);
      } else {
        /* JSON.parse turned Node's \u00XX escapes into Latin-1 characters. */
        u8_end(e->a, &e->u8);
        put_cp(e->a, c);
      }
      break;
    }
  }
}

static void em_str(emitter *e, const char *s) { em_bytes(e, (const uint8_t *)s, strlen(s)); }

typedef struct bytes_ctx {
  const uint8_t *p;
  size_t n;
} bytes_ctx;

static void produce_bytes(emitter *e, const void *ctx) {
  const bytes_ctx *b = (const bytes_ctx *)ctx;
  em_bytes(e, b->p, b->n);
}

/* One character of an RFC 2253 value (OpenSSL's do_esc_char with
 * ASN1_STRFLGS_ESC_2253 only, which is what Node's flags leave): a leading
 * space or '#', and a trailing space, are escaped; a lone character counts
 * only as trailing. */
static void rfc2253_char(emitter *e, uint32_t c, int first, int last) {
  uint8_t b[4];
  if (c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' ||
      (c == ' ' && (first || last)) || (c == '#' && first && !last))
    em_bytes(e, (const uint8_t *)"\\", 1);
  em_bytes(e, b, portls__utf8_encode(c, b));
}

static void rfc2253_value(emitter *e, const portls__der_tlv *oid, const portls__der_tlv *v) {
  char text[PORTLS__DER_OID_TEXT_MAX];
  const char *sn;
  int k = value_kind(v);
  size_t i, adv;

  oid_text(oid, text, sizeof(text));
  sn = oid_lookup(dn_names, PORTLS__ARRAY_SIZE(dn_names), text);
  em_str(e, sn ? sn : text);
  em_str(e, "=");
  if (sn == NULL || k == VAL_DUMP || k == VAL_BAD) {
    /* OpenSSL dumps values of unknown attributes, and of types it cannot
     * show as text, as '#' and the hex of their DER. */
    static const char hex[] = "0123456789ABCDEF";
    size_t total = v->hdr_len + v->len;
    em_str(e, "#");
    for (i = 0; i < total; i++) {
      uint8_t h[2];
      h[0] = (uint8_t)hex[v->hdr[i] >> 4];
      h[1] = (uint8_t)hex[v->hdr[i] & 15];
      em_bytes(e, h, 2);
    }
    return;
  }
  if (k == VAL_UTF8) {
    /* OpenSSL takes a UTF8String's bytes one by one here. */
    for (i = 0; i < v->len; i++) {
      if (v->val[i] < 0x80)
        rfc2253_char(e, v->val[i], i == 0, i + 1 == v->len);
      else
        em_bytes(e, v->val + i, 1);
    }
    return;
  }
  for (i = 0; i < v->len; i += adv) {
    uint32_t c = value_char(k, v->val, v->len, i, &adv);
    rfc2253_char(e, c, i == 0, i + adv >= v->len);
  }
}

/* X509_NAME_print_ex with XN_FLAG_RFC2253 (less ESC_MSB and ESC_CTRL, as
 * Node prints a DirName): attributes last to first, "," between RDNs and
 * "+" inside one. We cannot walk DER backwards, so attributes are gathered
 * in blocks from the end; each block costs one forward walk. */
#define RFC2253_BLOCK 32

static void produce_rfc2253(emitter *e, const void *ctx) {
  const portls__der_tlv *name = (const portls__der_tlv *)ctx;
  struct {
    portls__der_tlv oid, val;
    size_t set;
  } blk[RFC2253_BLOCK];
  name_iter it;
  portls__der_tlv oid, val;
  size_t n = 0, hi, prev_set = 0;
  int first = 1;

  name_iter_init(&it, name);
  while (name_iter_next(&it, &oid, &val) == 1) n++;
  for (hi = n; hi > 0;) {
    size_t lo = hi > RFC2253_BLOCK ? hi - RFC2253_BLOCK : 0;
    size_t idx = 0, k;
    name_iter_init(&it, name);
    while (idx < hi && name_iter_next(&it, &oid, &val) == 1) {
      if (idx >= lo) {
        blk[idx - lo].oid = oid;
        blk[idx - lo].val = val;
        blk[idx - lo].set = it.set;
      }
      idx++;
    }
    for (k = hi; k-- > lo;) {
      if (!first) em_str(e, blk[k - lo].set == prev_set ? "+" : ",");
      first = 0;
      prev_set = blk[k - lo].set;
      rfc2253_value(e, &blk[k - lo].oid, &blk[k - lo].val);
    }
    hi = lo;
  }
}

/* Node's PrintAltName: the name as is when safe, else a JSON string, with
 * the optional "prefix:" inside it. */
static void print_alt_name(arena *a, producer_fn produce, const void *ctx, int utf8,
                           const char *prefix) {
  emitter e;
  memset(&e, 0, sizeof(e));
  e.a = a;
  e.utf8 = utf8;
  e.mode = EM_CHECK;
  produce(&e, ctx);
  if (e.unsafe) put_ch(a, '"');
  if (prefix) {
    put_s(a, prefix);
    put_ch(a, ':');
  }
  e.mode = e.unsafe ? EM_ESCAPE : EM_RAW;
  produce(&e, ctx);
  u8_end(a, &e.u8);
  if (e.unsafe) put_ch(a, '"');
}

/* The unescaped text of a name, as an infoAccess value shows it. */
static void print_value(arena *a, producer_fn produce, const void *ctx, int utf8,
                        const char *prefix) {
  emitter e;
  memset(&e, 0, sizeof(e));
  e.a = a;
  e.utf8 = utf8;
  e.mode = EM_VALUE;
  if (prefix) {
    put_s(a, prefix);
    put_ch(a, ':');
  }
  produce(&e, ctx);
  u8_end(a, &e.u8);
}

enum { GN_TEXT, GN_IP, GN_DIRNAME, GN_RID, GN_UNSUPPORTED };

typedef struct gn_info {
  const char *label; /* the part before ':' */
  int kind;
  int utf8;
  const char *prefix;   /* otherName type, inside the escaped form */
  bytes_ctx bytes;      /* text, IP octets or RID contents */
  portls__der_tlv name; /* GN_DIRNAME */
} gn_info;

/* Classifies a general name that check_general_name accepted. */
static void gn_describe(const portls__der_tlv *gn, gn_info *g) {
  memset(g, 0, sizeof(*g));
  g->kind = GN_UNSUPPORTED;
  g->bytes.p = gn->val;
  g->bytes.n = gn->len;
  switch (PORTLS__DER_TAG_NUMBER(gn->tag)) {
  case 0: {
    portls__der in;
    portls__der_tlv oid, wrap, v;
    char text[PORTLS__DER_OID_TEXT_MAX];
    size_t i;
    g->label = "othername";
    portls__der_init_tlv(&in, gn);
    if (portls__der_expect(&in, PORTLS__DER_OID, &oid) != 0 ||
        portls__der_expect(&in, PORTLS__DER_CTX_CONS(0), &wrap) != 0 ||
        portls__der_parse_one(wrap.val, wrap.len, &v) != 0)
      return;
    oid_text(&oid, text, sizeof(text));
    for (i = 0; i < PORTLS__ARRAY_SIZE(other_names); i++) {
      if (strcmp(other_names[i].oid, text) != 0) continue;
      if (v.tag != (other_names[i].utf8 ? PORTLS__DER_UTF8_STRING : PORTLS__DER_IA5_STRING)) return;
      g->kind = GN_TEXT;
      g->utf8 = other_names[i].utf8;
      g->prefix = other_names[i].prefix;
      g->bytes.p = v.val;
      g->bytes.n = v.len;
    }
    return;
  }
  case 1:
    g->label = "email";
    g->kind = GN_TEXT;
    return;
  case 2:
    g->label = "DNS";
    g->kind = GN_TEXT;
    return;
  case 3:
    g->label = "X400Name";
    return;
  case 4:
    g->label = "DirName";
    g->kind = GN_DIRNAME;
    g->utf8 = 1;
    if (portls__der_parse_one(gn->val, gn->len, &g->name) != 0) g->kind = GN_UNSUPPORTED;
    return;
  case 5:
    g->label = "EdiPartyName";
    return;
  case 6:
    g->label = "URI";
    g->kind = GN_TEXT;
    return;
  case 7:
    g->label = "IP Address";
    g->kind = GN_IP;
    return;
  case 8:
    g->label = "Registered ID";
    g->kind = GN_RID;
    return;
  default:
    g->label = "othername";
    return;
  }
}

static void put_ip(arena *a, const uint8_t *b, size_t n) {
  size_t j;
  if (n == 4) {
    for (j = 0; j < 4; j++) put_fmt(a, j == 0 ? "%llu" : ".%llu", b[j]);
  } else if (n == 16) {
    /* Node prints all eight groups, uppercase, no compression. */
    for (j = 0; j < 8; j++)
      put_fmt(a, j == 0 ? "%llX" : ":%llX", ((unsigned)b[2 * j] << 8) | b[2 * j + 1]);
  } else {
    put_s(a, "<invalid length=");
    put_fmt(a, "%llu", (unsigned long long)n);
    put_ch(a, '>');
  }
}

static void put_rid(arena *a, const bytes_ctx *b) {
  char text[PORTLS__DER_OID_TEXT_MAX];
  if (portls__der_oid_text(b->p, b->n, text, sizeof(text)) >= 0) put_s(a, text);
}

/* "DNS:a.example", "IP Address:1.2.3.4", ... as in subjectaltname. */
static void put_general_name(arena *a, const portls__der_tlv *gn) {
  gn_info g;
  gn_describe(gn, &g);
  put_s(a, g.label);
  put_ch(a, ':');
  switch (g.kind) {
  case GN_TEXT:
    print_alt_name(a, produce_bytes, &g.bytes, g.utf8, g.prefix);
    break;
  case GN_DIRNAME:
    print_alt_name(a, produce_rfc2253, &g.name, 1, NULL);
    break;
  case GN_IP:
    put_ip(a, g.bytes.p, g.bytes.n);
    break;
  case GN_RID:
    put_rid(a, &g.bytes);
    break;
  default:
    put_s(a, "<unsupported>");
    break;
  }
}

/* infoAccess: Node prints "OCSP - URI:http://..." and splits at the first
 * ':' into key and value, JSON-decoding values that were escaped. */
static void put_access_key(arena *a, const portls__der_tlv *method, const gn_info *g) {
  char text[PORTLS__DER_OID_TEXT_MAX];
  const char *ln;
  oid_text(method, text, sizeof(text));
  ln = oid_lookup(access_methods, PORTLS__ARRAY_SIZE(access_methods), text);
  put_s(a, ln ? ln : text);
  put_s(a, " - ");
  put_s(a, g->label);
}

static void put_access_value(arena *a, const gn_info *g) {
  switch (g->kind) {
  case GN_TEXT:
    print_value(a, produce_bytes, &g->bytes, g->utf8, g->prefix);
    break;
  case GN_DIRNAME:
    print_value(a, produce_rfc2253, &g->name, 1, NULL);
    break;
  case GN_IP:
    put_ip(a, g->bytes.p, g->bytes.n);
    break;
  case GN_RID:
    put_rid(a, &g->bytes);
    break;
  default:
    put_s(a, "<unsupported>");
    break;
  }
}

/* ------------------------------------------------------------------------ */
/* Times, as ASN1_TIME_print (OpenSSL 3.0) shows them.                      */

typedef struct xtime {
  long year;
  int mon, mday, hour, min, sec; /* mon 0..11 */
} xtime;

static int is_leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static long days_from_civil(long y, int m, int d) {
  long era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, long *y, int *m, int *d) {
  long era, doe, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

/* ossl_asn1_time_to_tm without ASN1_STRING_FLAG_X509_TIME, which a decoded
 * certificate does not carry: seconds optional, Z or an offset, and for
 * GeneralizedTime fractional seconds. */
static int time_parse(const portls__der_tlv *t, xtime *tm) {
  static const int mins[9] = {0, 0, 1, 1, 0, 0, 0, 0, 0};
  static const int maxs[9] = {99, 99, 12, 31, 23, 59, 59, 12, 59};
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const uint8_t *a = t->val;
  size_t l = t->len, o = 0;
  int utc = t->tag == PORTLS__DER_UTC_TIME;
  int end = utc ? 6 : 7, btz = utc ? 5 : 6;
  size_t min_l = utc ? 11 : 13;
  int i;

  memset(tm, 0, sizeof(*tm));
  if (l < min_l) return -1;
  for (i = 0; i < end; i++) {
    int n, i2;
    if (i == btz && (a[o] == 'Z' || a[o] == '+' || a[o] == '-')) break;
    if (a[o] < '0' || a[o] > '9') return -1;
    n = a[o] - '0';
    if (++o == l || a[o] < '0' || a[o] > '9') return -1;
    n = n * 10 + a[o] - '0';
    if (++o == l) return -1; /* no zone yet */
    i2 = utc ? i + 1 : i;
    if (n < mins[i2] || n > maxs[i2]) return -1;
    switch (i2) {
    case 0:
      tm->year = n * 100L;
      break;
    case 1:
      if (utc)
        tm->year = n < 50 ? 2000 + n : 1900 + n;
      else
        tm->year += n;
      break;
    case 2:
      tm->mon = n - 1;
      break;
    case 3:
      if (n > mdays[tm->mon] + (tm->mon == 1 && is_leap(tm->year))) return -1;
      tm->mday = n;
      break;
    case 4:
      tm->hour = n;
      break;
    case 5:
      tm->min = n;
      break;
    default:
      tm->sec = n;
      break;
    }
  }
  if (!utc && a[o] == '.') {
    size_t start;
    if (++o == l) return -1;
    start = o;
    while (o < l && a[o] >= '0' && a[o] <= '9') o++;
    if (o == start || o == l) return -1;
  }
  if (a[o] == 'Z') {
    o++;
  } else if (a[o] == '+' || a[o] == '-') {
    long sign = a[o] == '-' ? 1 : -1; /* converts local time to GMT */
    long offset = 0;
    o++;
    if (o + 4 != l) return -1;
    for (i = end; i < end + 2; i++) {
      int n, i2 = utc ? i + 1 : i;
      if (a[o] < '0' || a[o] > '9' || a[o + 1] < '0' || a[o + 1] > '9') return -1;
      n = (a[o] - '0') * 10 + (a[o + 1] - '0');
      if (n < mins[i2] || n > maxs[i2]) return -1;
      offset += i == end ? n * 3600L : n * 60L;
      o += 2;
    }
    if (offset) {
      /* OPENSSL_gmtime_adj, which also limits the year to 1900..9999 */
      long secs = tm->hour * 3600L + tm->min * 60L + tm->sec + sign * offset;
      long day = days_from_civil(tm->year, tm->mon + 1, tm->mday);
      long y;
      int m, d;
      if (secs < 0) {
        secs += 86400;
        day--;
      } else if (secs >= 86400) {
        secs -= 86400;
        day++;
      }
      civil_from_days(day, &y, &m, &d);
      if (y < 1900 || y > 9999) return -1;
      tm->year = y;
      tm->mon = m - 1;
      tm->mday = d;
      tm->hour = (int)(secs / 3600);
      tm->min = (int)(secs / 60 % 60);
      tm->sec = (int)(secs % 60);
    }
  } else {
    return -1;
  }
  return o == l ? 0 : -1;
}

static void put_time(arena *a, const portls__der_tlv *t) {
  static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  xtime tm;
  char buf[96];
  const char *frac = "";
  int flen = 0, n;

  if (time_parse(t, &tm) != 0) {
    put_s(a, "Bad time value");
    return;
  }
  if (t->tag == PORTLS__DER_GENERALIZED_TIME && t->len > 15 && t->val[14] == '.') {
    frac = (const char *)t->val + 14;
    flen = 1;
    while (14 + (size_t)flen < t->len && t->val[14 + flen] >= '0' && t->val[14 + flen] <= '9')
      flen++;
  }
  n = snprintf(buf, sizeof(buf), "%s %2d %02d:%02d:%02d", months[tm.mon], tm.mday, tm.hour, tm.min,
               tm.sec);
  if (n > 0) put(a, buf, (size_t)n);
  put(a, frac, (size_t)flen);
  /* OpenSSL 3.0 has already moved an offset time to GMT, and says so. */
  n = snprintf(buf, sizeof(buf), " %ld GMT", tm.year);
  if (n > 0) put(a, buf, (size_t)n);
}

/* ------------------------------------------------------------------------ */
/* Numbers.                                                                 */

/* BN_bn2hex of an INTEGER: whole octets, uppercase, leading zero octets
 * dropped, "0" for zero, "-" and the magnitude when negative. */
static void put_serial(arena *a, const portls__der_tlv *t) {
  static const char hex[] = "0123456789ABCDEF";
  const uint8_t *p = t->val;
  size_t n = t->len, i, last_nonzero = 0;
  int neg = (p[0] & 0x80) != 0;
  int started = 0;

  for (i = 0; i < n; i++)
    if (p[i]) last_nonzero = i;
  if (neg) put_ch(a, '-');
  for (i = 0; i < n; i++) {
    /* Two's complement negation, octet by octet from the front: the +1
     * only carries into the last nonzero octet. */
    uint8_t b = p[i];
    if (neg) b = i < last_nonzero ? (uint8_t)~b : i == last_nonzero ? (uint8_t)(~b + 1) : 0;
    if (!started && b == 0) continue;
    started = 1;
    put_ch(a, hex[b >> 4]);
    put_ch(a, hex[b & 15]);
  }
  if (!started) put_ch(a, '0');
}

/* BN_print of a positive INTEGER: uppercase, leading zero nibbles dropped. */
static void put_modulus(arena *a, const portls__der_tlv *t) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  int started = 0;
  for (i = 0; i < t->len; i++) {
    uint8_t b = t->val[i];
    if (started || b >> 4) {
      put_ch(a, hex[b >> 4]);
      started = 1;
    }
    if (started || (b & 15)) {
      put_ch(a, hex[b & 15]);
      started = 1;
    }
  }
  if (!started) put_ch(a, '0');
}

/* Node: "0x%" PRIx64 of BN_get_word, which is all ones past 64 bits. */
static void put_exponent(arena *a, const portls__der_tlv *t) {
  unsigned long long v = 0;
  size_t i = 0, n = t->len;
  while (i < n && t->val[i] == 0) i++;
  if (n - i > 8) {
    v = ~0ULL;
  } else {
    for (; i < n; i++) v = (v << 8) | t->val[i];
  }
  put_fmt(a, "0x%llx", v);
}

/* ------------------------------------------------------------------------ */
/* Building portls_cert.                                                    */

typedef struct parsed {
  portls__x509 x;
  uint8_t sha1[PORTLS__SHA1_LEN];
  uint8_t sha256[PORTLS__SHA256_LEN];
} parsed;

#define SET(field, value)                                                                          \
  do {                                                                                             \
    if (c) c->field = (value);                                                                     \
  } while (0)

static void emit_name(arena *a, const portls__der_tlv *name, size_t count, portls_dn *dn) {
  portls_dn_entry *e = (portls_dn_entry *)arena_obj(a, sizeof(*e), count);
  name_iter it;
  portls__der_tlv oid, val;
  size_t i = 0;

  name_iter_init(&it, name);
  while (i < count && name_iter_next(&it, &oid, &val) == 1) {
    char text[PORTLS__DER_OID_TEXT_MAX];
    const char *sn, *key, *value;
    oid_text(&oid, text, sizeof(text));
    sn = oid_lookup(dn_names, PORTLS__ARRAY_SIZE(dn_names), text);
    str_begin(a);
    put_s(a, sn ? sn : text);
    key = str_end(a);
    str_begin(a);
    put_dn_value(a, &val);
    value = str_end(a);
    if (e) {
      e[i].key = key;
      e[i].value = value;
    }
    i++;
  }
  if (dn) {
    dn->entries = e;
    dn->count = e ? count : 0;
  }
}

/* Lays out one certificate's fields; c is NULL while measuring. */
static void emit_cert(arena *a, const parsed *p, portls_cert *c) {
  const portls__x509 *x = &p->x;
  portls__der d;
  portls__der_tlv t;
  size_t i;
  const char *s;

  emit_name(a, &x->subject, x->subject_count, c ? &c->subject : NULL);
  emit_name(a, &x->issuer, x->issuer_count, c ? &c->issuer : NULL);

  if (x->has_san) {
    str_begin(a);
    portls__der_init_tlv(&d, &x->san_seq);
    for (i = 0; portls__der_read(&d, &t) == 0; i++) {
      if (i) put_s(a, ", ");
      put_general_name(a, &t);
    }
    s = str_end(a);
    SET(subjectaltname, s);
  }

  if (x->has_aia && x->aia_count) {
    portls_dn_entry *e = (portls_dn_entry *)arena_obj(a, sizeof(*e), x->aia_count);
    portls__der_init_tlv(&d, &x->aia_seq);
    for (i = 0; i < x->aia_count; i++) {
      portls__der ad;
      portls__der_tlv method, loc;
      gn_info g;
      const char *key, *value;
      if (portls__der_enter(&d, PORTLS__DER_SEQUENCE, &ad) != 0 ||
          portls__der_read(&ad, &method) != 0 || portls__der_read(&ad, &loc) != 0)
        break;
      gn_describe(&loc, &g);
      str_begin(a);
      put_access_key(a, &method, &g);
      key = str_end(a);
      str_begin(a);
      put_access_value(a, &g);
      value = str_end(a);
      if (e) {
        e[i].key = key;
        e[i].value = value;
      }
    }
    SET(infoaccess.entries, e);
    SET(infoaccess.count, e ? i : 0);
  }

  /* X509_check_ca() == 1: basicConstraints cA, and keyUsage (if present)
   * allowing certificate signing. */
  SET(ca, x->has_bc && x->bc_ca && (!x->has_ku || (x->ku_bits & KU_KEY_CERT_SIGN)));

  for (i = 0; i < PORTLS__ARRAY_SIZE(key_types); i++) {
    if (key_types[i].type == x->key_type) {
      SET(pubkey_type, key_types[i].name);
      break;
    }
  }
  if (x->key_type == PORTLS__KEY_UNKNOWN) {
    char text[PORTLS__DER_OID_TEXT_MAX];
    oid_text(&x->key_alg, text, sizeof(text));
    str_begin(a);
    put_s(a, text);
    s = str_end(a);
    SET(pubkey_type, s);
  }
  if (x->key_type == PORTLS__KEY_RSA && x->rsa_ok) {
    SET(bits, integer_bits(&x->rsa_n));
    str_begin(a);
    put_modulus(a, &x->rsa_n);
    s = str_end(a);
    SET(modulus, s);
    str_begin(a);
    put_exponent(a, &x->rsa_e);
    s = str_end(a);
    SET(exponent, s);
  } else if (x->key_type == PORTLS__KEY_EC) {
    SET(bits, x->ec_bits);
    if (x->ec_curve >= 0) {
      SET(asn1curve, curves[x->ec_curve].asn1);
      SET(nistcurve, curves[x->ec_curve].nist);
    }
  }

  str_begin(a);
  put_time(a, &x->not_before);
  s = str_end(a);
  SET(valid_from, s);
  str_begin(a);
  put_time(a, &x->not_after);
  s = str_end(a);
  SET(valid_to, s);

  str_begin(a);
  put_hex(a, p->sha1, sizeof(p->sha1), 1);
  s = str_end(a);
  SET(fingerprint, s);
  str_begin(a);
  put_hex(a, p->sha256, sizeof(p->sha256), 1);
  s = str_end(a);
  SET(fingerprint256, s);

  if (x->has_eku) {
    const char **v = (const char **)arena_obj(a, sizeof(*v), x->eku_count);
    portls__der_init_tlv(&d, &x->eku_seq);
    for (i = 0; i < x->eku_count && portls__der_read(&d, &t) == 0; i++) {
      char text[PORTLS__DER_OID_TEXT_MAX];
      oid_text(&t, text, sizeof(text));
      str_begin(a);
      put_s(a, text);
      s = str_end(a);
      if (v) v[i] = s;
    }
    SET(ext_key_usage, v);
    SET(ext_key_usage_count, v ? x->eku_count : 0);
  }

  str_begin(a);
  put_serial(a, &x->serial);
  s = str_end(a);
  SET(serial_number, s);

  str_begin(a);
  put(a, x->der, x->der_len);
  SET(raw, a->base ? (const uint8_t *)a->base + a->obj_cap + a->mark : NULL);
  SET(raw_len, x->der_len);
}

/* Formats count parsed certificates into one block. The structs come
 * first, so the block's address is the first certificate's. */
static int build(const parsed *ps, size_t count, portls_cert **out, portls_error *err) {
  arena a;
  portls_cert *certs;
  size_t i;

  memset(&a, 0, sizeof(a));
  arena_obj(&a, sizeof(portls_cert), count);
  for (i = 0; i < count; i++) emit_cert(&a, &ps[i], NULL);
  if (a.overflow) return portls__err(err, PORTLS_ENOMEM, "certificate too large");
  a.obj_cap = (a.obj + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
  a.str_cap = a.str;
  if (a.obj_cap < a.obj || a.str_cap > (size_t)-1 - a.obj_cap)
    return portls__err(err, PORTLS_ENOMEM, "certificate too large");
  a.base = (uint8_t *)portls__calloc(1, a.obj_cap + a.str_cap);
  if (a.base == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  a.obj = 0;
  a.str = 0;
  certs = (portls_cert *)arena_obj(&a, sizeof(portls_cert), count);
  for (i = 0; i < count; i++) emit_cert(&a, &ps[i], &certs[i]);
  if (a.overflow) {
    /* The two passes disagreed: a bug, but never a reason to hand out a
     * half-written certificate. */
    portls__free(a.base);
    return portls__err(err, PORTLS_ENOMEM, "certificate layout mismatch");
  }
  *out = certs;
  return 0;
}

static int parse_one(const void *der, size_t len, parsed *p, portls_error *err) {
  int r = portls__x509_parse(der, len, &p->x, err);
  if (r != 0) return r;
  if (portls__digest(PORTLS__SHA1, der, len, p->sha1) != 0 ||
      portls__digest(PORTLS__SHA256, der, len, p->sha256) != 0)
    return portls__err(err, PORTLS_ENOTSUP, "certificate fingerprint: digest unavailable");
  return 0;
}

int portls_cert_parse_der(const void *der, size_t len, portls_cert **out, portls_error *err) {
  parsed p;
  int r;
  if (out == NULL || der == NULL)
    return portls__err(err, PORTLS_EINVAL, "certificate: NULL argument");
  *out = NULL;
  r = parse_one(der, len, &p, err);
  if (r != 0) return r;
  return build(&p, 1, out, err);
}

int portls_cert_parse_chain(const void *const *ders, const size_t *lens, size_t count,
                            portls_cert **out, portls_error *err) {
  parsed *ps;
  size_t i;
  int r;

  if (out == NULL || ders == NULL || lens == NULL || count == 0)
    return portls__err(err, PORTLS_EINVAL, "certificate chain: NULL or empty argument");
  *out = NULL;
  if (count > (size_t)-1 / sizeof(*ps)) return portls__err(err, PORTLS_ENOMEM, NULL);
  ps = (parsed *)portls__malloc(count * sizeof(*ps));
  if (ps == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  for (i = 0; i < count; i++) {
    if (ders[i] == NULL) {
      portls__free(ps);
      return portls__err(err, PORTLS_EINVAL, "certificate chain: NULL certificate");
    }
    r = parse_one(ders[i], lens[i], &ps[i], err);
    if (r != 0) {
      portls__free(ps);
      return r;
    }
  }
  r = build(ps, count, out, err);
  if (r == 0) {
    portls_cert *certs = *out;
    for (i = 0; i + 1 < count; i++) certs[i].issuer_certificate = &certs[i + 1];
    /* Node ends the detailed chain with a self-issued root pointing to
     * itself. */
    if (portls__x509_issued_by(&ps[count - 1].x, &ps[count - 1].x))
      certs[count - 1].issuer_certificate = &certs[count - 1];
  }
  portls__free(ps);
  return r;
}

int portls_cert_parse_pem(const void *pem, size_t len, portls_cert **out, portls_error *err) {
  static const char *const labels[] = {"CERTIFICATE", "X509 CERTIFICATE", NULL};
  portls__pem_block block;
  size_t pos = 0, der_len;
  uint8_t *der;
  int r;

  if (out == NULL || pem == NULL)
    return portls__err(err, PORTLS_EINVAL, "certificate: NULL argument");
  *out = NULL;
  if (portls__pem_find(pem, len, &pos, labels, &block) != 0)
    return portls__err(err, PORTLS_ECERT, "no PEM CERTIFICATE block");
  if (block.headers != NULL)
    return portls__err(err, PORTLS_ECERT, "malformed PEM: a certificate takes no headers");
  r = portls__pem_decode(&block, &der, &der_len);
  if (r == PORTLS_ENOMEM) return portls__err(err, PORTLS_ENOMEM, NULL);
  if (r != 0) return portls__err(err, PORTLS_ECERT, "malformed PEM: invalid base64");
  r = portls_cert_parse_der(der, der_len, out, err);
  portls__free(der);
  return r;
}

void portls_cert_free(portls_cert *cert) { portls__free(cert); }
