#!/usr/bin/env python3
"""Generates the cipher-suite table of core/tls/suites.c.

    python3 tools/gen/gen_suites.py core/tls/suites.c

Rewrites the lines between "BEGIN GENERATED SUITES" and "END GENERATED SUITES"
in that file. Needs, on the build box (Debian 12): the `openssl` 3.0 command,
its headers (/usr/include/openssl/{ssl3,tls1}.h) and mbedTLS 2.28's
/usr/include/mbedtls/ssl_ciphersuites.h. The output is committed; the build
never runs this script.

Sources, in order of authority:
  1. OpenSSL 3.0 itself (`openssl ciphers -V -stdname -v`): id, OpenSSL name,
     IANA name, key exchange, authentication, cipher, MAC, minimum version;
     membership in HIGH/MEDIUM/LOW/FIPS/COMPLEMENTOFDEFAULT gives the strength
     class flags.
  2. Suites that mbedTLS 2.28 knows and this OpenSSL build does not: the IANA
     name is the mbedTLS macro name without "MBEDTLS_"; the OpenSSL name comes
     from the TLS1_TXT_* / SSL3_TXT_* macro that OpenSSL's headers still carry
     for it (weak, static-ECDH, 3DES and RC4 suites); otherwise it is derived
     by the rule documented in suites.h (ARIA-CBC, Camellia-GCM, EC J-PAKE).
     Attributes are parsed from the IANA name.
  3. The rank (OpenSSL's default preference order) is computed by running the
     preference rules of OpenSSL 3.0's ssl_create_cipher_list() over all
     suites, starting from OpenSSL's initial order (descending id), and checked
     against the order `openssl ciphers ALL` and `COMPLEMENTOFALL` print.
"""
import re
import subprocess
import sys

TLS13_ALL = ("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
             "TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256")

VERSIONS = {"SSLv3": 0x0300, "TLSv1": 0x0301, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}

# OpenSSL -v column values → our attribute names
KX_COL = {"RSA": "RSA", "DH": "DHE", "ECDH": "ECDHE", "PSK": "PSK", "RSAPSK": "RSAPSK",
          "ECDHEPSK": "ECDHEPSK", "DHEPSK": "DHEPSK", "SRP": "SRP", "any": "ANY"}
AU_COL = {"RSA": "RSA", "DSS": "DSS", "None": "NULL", "ECDSA": "ECDSA", "PSK": "PSK",
          "SRP": "SRP", "any": "ANY"}
ENC_COL = {"AES(128)": "AES128", "AES(256)": "AES256", "AESGCM(128)": "AES128GCM",
           "AESGCM(256)": "AES256GCM", "AESCCM(128)": "AES128CCM", "AESCCM(256)": "AES256CCM",
           "AESCCM8(128)": "AES128CCM8", "AESCCM8(256)": "AES256CCM8",
           "Camellia(128)": "CAMELLIA128", "Camellia(256)": "CAMELLIA256",
           "ARIAGCM(128)": "ARIA128GCM", "ARIAGCM(256)": "ARIA256GCM",
           "CHACHA20/POLY1305(256)": "CHACHA20POLY1305", "None": "NULL"}
MAC_COL = {"MD5": "MD5", "SHA1": "SHA1", "SHA256": "SHA256", "SHA384": "SHA384", "AEAD": "AEAD"}

# IANA name pieces → attributes
IANA_KX = {
    "RSA": ("RSA", "RSA"), "DHE_RSA": ("DHE", "RSA"), "DHE_DSS": ("DHE", "DSS"),
    "DH_anon": ("DHE", "NULL"), "ECDHE_ECDSA": ("ECDHE", "ECDSA"), "ECDHE_RSA": ("ECDHE", "RSA"),
    "ECDH_anon": ("ECDHE", "NULL"), "ECDH_ECDSA": ("ECDHe", "ECDH"), "ECDH_RSA": ("ECDHr", "ECDH"),
    "PSK": ("PSK", "PSK"), "DHE_PSK": ("DHEPSK", "PSK"), "PSK_DHE": ("DHEPSK", "PSK"),
    "RSA_PSK": ("RSAPSK", "RSA"), "ECDHE_PSK": ("ECDHEPSK", "PSK"), "SRP_SHA": ("SRP", "SRP"),
    "SRP_SHA_RSA": ("SRP", "RSA"), "SRP_SHA_DSS": ("SRP", "DSS"), "ECJPAKE": ("ECJPAKE", "ECJPAKE"),
}
IANA_ENC = {  # name → (enc, strength bits, algorithm bits)
    "NULL": ("NULL", 0, 0), "RC4_128": ("RC4", 128, 128), "DES_CBC": ("DES", 56, 56),
    "3DES_EDE_CBC": ("3DES", 112, 168),
    "AES_128_CBC": ("AES128", 128, 128), "AES_256_CBC": ("AES256", 256, 256),
    "AES_128_GCM": ("AES128GCM", 128, 128), "AES_256_GCM": ("AES256GCM", 256, 256),
    "AES_128_CCM": ("AES128CCM", 128, 128), "AES_256_CCM": ("AES256CCM", 256, 256),
    "AES_128_CCM_8": ("AES128CCM8", 128, 128), "AES_256_CCM_8": ("AES256CCM8", 256, 256),
    "CAMELLIA_128_CBC": ("CAMELLIA128", 128, 128), "CAMELLIA_256_CBC": ("CAMELLIA256", 256, 256),
    "CAMELLIA_128_GCM": ("CAMELLIA128GCM", 128, 128),
    "CAMELLIA_256_GCM": ("CAMELLIA256GCM", 256, 256),
    "ARIA_128_CBC": ("ARIA128", 128, 128), "ARIA_256_CBC": ("ARIA256", 256, 256),
    "ARIA_128_GCM": ("ARIA128GCM", 128, 128), "ARIA_256_GCM": ("ARIA256GCM", 256, 256),
    "CHACHA20_POLY1305": ("CHACHA20POLY1305", 256, 256),
}
AEAD_ENCS = {"AES128GCM", "AES256GCM", "AES128CCM", "AES256CCM", "AES128CCM8", "AES256CCM8",
             "CAMELLIA128GCM", "CAMELLIA256GCM", "ARIA128GCM", "ARIA256GCM", "CHACHA20POLY1305"}
IANA_MAC = {"MD5": "MD5", "SHA": "SHA1", "SHA256": "SHA256", "SHA384": "SHA384"}

# Derived OpenSSL-style names (see suites.h, "Names"): prefix by key exchange.
NAME_PREFIX = {
    "RSA": "", "DHE_RSA": "DHE-RSA-", "DHE_DSS": "DHE-DSS-", "DH_anon": "ADH-",
    "ECDHE_ECDSA": "ECDHE-ECDSA-", "ECDHE_RSA": "ECDHE-RSA-", "ECDH_anon": "AECDH-",
    "ECDH_ECDSA": "ECDH-ECDSA-", "ECDH_RSA": "ECDH-RSA-", "PSK": "PSK-", "DHE_PSK": "DHE-PSK-",
    "RSA_PSK": "RSA-PSK-", "ECDHE_PSK": "ECDHE-PSK-", "ECJPAKE": "ECJPAKE-",
}


def run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def ossl_list(cipher_string):
    """TLS<=1.2 names in OpenSSL's order for cipher_string (empty on no match)."""
    r = subprocess.run(["openssl", "ciphers", "-ciphersuites", "", cipher_string],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return []
    return [n for n in r.stdout.strip().split(":") if n]


def parse_iana(std):
    m = re.match(r"^TLS_(.+)_WITH_(.+)$", std)
    if not m:
        raise SystemExit("cannot parse " + std)
    kxs, rest = m.group(1), m.group(2)
    kx, au = IANA_KX[kxs]
    for mac_s, mac in IANA_MAC.items():
        if rest.endswith("_" + mac_s) and rest[: -len(mac_s) - 1] in IANA_ENC:
            enc, sbits, abits = IANA_ENC[rest[: -len(mac_s) - 1]]
            break
    else:
        enc, sbits, abits = IANA_ENC[rest]  # CCM suites name no MAC
        mac = None
    if enc in AEAD_ENCS:
        mac = "AEAD"
    return kxs, kx, au, enc, mac, sbits, abits


def header_names():
    """OpenSSL's TLS1_TXT_*/SSL3_TXT_* names by suite id."""
    ck, txt = {}, {}
    for h in ("/usr/include/openssl/ssl3.h", "/usr/include/openssl/tls1.h"):
        for line in open(h):
            m = re.match(r"\s*#\s*define\s+(SSL3|TLS1)_CK_(\w+)\s+0x0300([0-9A-Fa-f]{4})\b", line)
            if m:
                ck[m.group(1) + m.group(2)] = int(m.group(3), 16)
            m = re.match(r'\s*#\s*define\s+(SSL3|TLS1)_TXT_(\w+)\s+"([^"]+)"', line)
            if m:
                txt.setdefault(m.group(1) + m.group(2), m.group(3))
    by_id = {}
    for key, i in ck.items():
        if key in txt and not key.startswith("SSL3EDH") and not txt[key].startswith("EXP"):
            by_id.setdefault(i, txt[key])
    return by_id


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "core/tls/suites.c"
    suites = {}

    text = run(["openssl", "ciphers", "-V", "-stdname", "-v", "-ciphersuites", TLS13_ALL,
                "ALL:COMPLEMENTOFALL:@SECLEVEL=0"])
    for line in text.splitlines():
        f = line.split()
        # 0x13,0x02 - STD - NAME VERSION Kx= Au= Enc= Mac=
        hi, lo = f[0].split(",")
        sid = int(hi, 16) << 8 | int(lo, 16)
        std, name, ver = f[2], f[4], f[5]
        kx = KX_COL[f[6][3:]]
        au = AU_COL[f[7][3:]]
        enc = ENC_COL[f[8][4:]]
        mac = MAC_COL[f[9][4:]]
        m = re.search(r"\((\d+)\)", f[8])
        bits = int(m.group(1)) if m else 0
        suites[sid] = dict(id=sid, name=name, std=std, kx=kx, au=au, enc=enc, mac=mac,
                           ver=VERSIONS[ver], sbits=bits, abits=bits, origin={"OPENSSL"},
                           cls=set())
        if ver != "TLSv1.3":  # cross-check the IANA parser on what OpenSSL says
            _, pkx, pau, penc, pmac, _, _ = parse_iana(std)
            assert (pkx, pau, penc, pmac) == (kx, au, enc, mac), (std, pkx, pau, penc, pmac)

    for cls in ("HIGH", "MEDIUM", "LOW", "FIPS", "COMPLEMENTOFDEFAULT"):
        for n in ossl_list(cls):
            s = next(v for v in suites.values() if v["name"] == n)
            s["cls"].add("NOT_DEFAULT" if cls == "COMPLEMENTOFDEFAULT" else cls)
    for s in suites.values():
        if s["ver"] == 0x0304:
            s["cls"] = {"HIGH"}
        elif not s["cls"] & {"HIGH", "MEDIUM", "LOW"}:
            assert s["enc"] == "NULL", s
            s["cls"].add("NONE")

    ossl_ids = set(suites)
    txt_names = header_names()
    mbed = []
    for line in open("/usr/include/mbedtls/ssl_ciphersuites.h"):
        m = re.match(r"\s*#\s*define\s+MBEDTLS_(TLS_\w+_WITH_\w+)\s+(0x[0-9A-Fa-f]+)", line)
        if m:
            mbed.append((int(m.group(2), 16), m.group(1)))
    for sid, std in mbed:
        if sid in suites:
            suites[sid]["origin"].add("MBEDTLS")
            continue
        kxs, kx, au, enc, mac, sbits, abits = parse_iana(std)
        name = txt_names.get(sid)
        if name is None:
            base = {"ARIA128": "ARIA128", "ARIA256": "ARIA256",
                    "CAMELLIA128GCM": "CAMELLIA128-GCM", "CAMELLIA256GCM": "CAMELLIA256-GCM",
                    "AES128CCM8": "AES128-CCM8"}[enc]
            name = NAME_PREFIX[kxs] + base + ("" if mac == "AEAD" and "CCM" in enc else
                                               "-" + (std.rsplit("_", 1)[1]))
        # Minimum version: ARIA (RFC 6209) is TLS 1.2 only; otherwise the OpenSSL
        # suite of the same key exchange, authentication and MAC (CBC or AEAD alike).
        if enc.startswith("ARIA") or mac == "AEAD":
            ver = 0x0303
        else:
            okx = {"ECDHe": "ECDHE", "ECDHr": "ECDHE"}.get(kx, kx)
            oau = {"ECDHe": "ECDSA", "ECDHr": "RSA"}.get(kx, au)
            twins = [s["ver"] for s in suites.values()
                     if s["id"] in ossl_ids and s["kx"] == okx and s["au"] == oau
                     and s["mac"] == mac and s["mac"] != "AEAD"]
            ver = min(twins) if twins else 0x0303
        cls = set()
        if enc == "NULL":
            cls.add("NONE")
        elif enc == "DES":
            cls.add("LOW")
        elif enc in ("RC4", "3DES"):
            cls.add("MEDIUM")
        else:
            cls.add("HIGH")
        if (enc.startswith("AES") and "CCM" not in enc and kx != "SRP") or enc == "3DES":
            cls.add("FIPS")
        if (enc in ("RC4", "DES", "3DES") or enc.startswith("CAMELLIA") or enc.startswith("ARIA")
                or "CCM" in enc or au in ("NULL", "DSS") or kx == "ECJPAKE"):
            cls.add("NOT_DEFAULT")
        suites[sid] = dict(id=sid, name=name, std=std, kx=kx, au=au, enc=enc, mac=mac, ver=ver,
                           sbits=sbits, abits=abits, origin={"MBEDTLS"}, cls=cls)

    names = [s["name"] for s in suites.values()]
    assert len(names) == len(set(names)), "duplicate OpenSSL-style names"

    # ---- OpenSSL 3.0's preference rules (ssl_create_cipher_list) ----
    legacy = [s for s in suites.values() if s["ver"] != 0x0304]
    # ssl3_get_cipher() walks OpenSSL's id-sorted table backwards
    order = sorted(legacy, key=lambda s: -s["id"])
    active = {s["id"]: False for s in order}

    def match(s, kx=None, au=None, enc=None, mac=None, ver=None, bits=None):
        if bits is not None:
            return s["sbits"] == bits
        return ((kx is None or s["kx"] in kx) and (au is None or s["au"] in au)
                and (enc is None or s["enc"] in enc) and (mac is None or s["mac"] in mac)
                and (ver is None or s["ver"] == ver))

    def rule(op, **crit):
        nonlocal order
        if op in ("DEL", "BUMP"):
            for s in list(reversed(order)):
                if not match(s, **crit):
                    continue
                if op == "DEL" and active[s["id"]]:
                    order.remove(s); order.insert(0, s); active[s["id"]] = False
                elif op == "BUMP" and active[s["id"]]:
                    order.remove(s); order.insert(0, s)
        else:
            for s in list(order):
                if not match(s, **crit):
                    continue
                if op == "ADD" and not active[s["id"]]:
                    order.remove(s); order.append(s); active[s["id"]] = True
                elif op == "ORD" and active[s["id"]]:
                    order.remove(s); order.append(s)

    def strength_sort():
        used = sorted({s["sbits"] for s in order if active[s["id"]]}, reverse=True)
        for b in used:
            rule("ORD", bits=b)

    AESGCM = {"AES128GCM", "AES256GCM"}
    AES = {"AES128", "AES256", "AES128GCM", "AES256GCM", "AES128CCM", "AES256CCM",
           "AES128CCM8", "AES256CCM8"}
    rule("ADD", kx={"ECDHE"}, au={"ECDSA"})
    rule("ADD", kx={"ECDHE"})
    rule("DEL", kx={"ECDHE"})
    rule("ADD", enc=AESGCM)
    rule("ADD", enc={"CHACHA20POLY1305"})
    rule("ADD", enc=AES - AESGCM)
    rule("ADD")
    rule("ORD", mac={"MD5"})
    rule("ORD", au={"NULL"})
    rule("ORD", kx={"RSA"})
    rule("ORD", kx={"PSK"})
    rule("ORD", enc={"RC4"})
    strength_sort()
    rule("BUMP", ver=0x0303)
    rule("BUMP", mac={"AEAD"})
    rule("BUMP", kx={"DHE", "ECDHE"})
    rule("BUMP", kx={"DHE", "ECDHE"}, mac={"AEAD"})
    rule("DEL")
    for rank, s in enumerate(order):
        s["rank"] = rank
    for s in suites.values():
        if s["ver"] == 0x0304:
            s["rank"] = {0x1302: 0, 0x1303: 1, 0x1301: 2, 0x1304: 3, 0x1305: 4}[s["id"]]

    # The simulation must agree with OpenSSL wherever OpenSSL can be asked.
    ours = [s["name"] for s in order if s["id"] in ossl_ids]
    ours_all = [n for n in ours if suites_by_name(suites, n)["enc"] != "NULL"]
    ours_null = [n for n in ours if suites_by_name(suites, n)["enc"] == "NULL"]
    assert ours_all == ossl_list("ALL"), "rank disagrees with `openssl ciphers ALL`"
    assert ours_null == ossl_list("COMPLEMENTOFALL"), "rank disagrees with COMPLEMENTOFALL"

    rows = []
    for s in sorted(suites.values(), key=lambda s: s["id"]):
        cls = " | ".join("PORTLS__S_" + c for c in
                         [c for c in ("NONE", "LOW", "MEDIUM", "HIGH", "FIPS", "NOT_DEFAULT")
                          if c in s["cls"]])
        origin = " | ".join("PORTLS__ORIGIN_" + o for o in ("OPENSSL", "MBEDTLS")
                            if o in s["origin"])
        mac = "PORTLS__M_" + (s["mac"] or "AEAD")
        rows.append('    {0x%04X, 0x%04X, %d, %d, %d,\n'
                    '     "%s", "%s",\n'
                    '     PORTLS__K_%s, PORTLS__A_%s, PORTLS__E_%s, %s,\n'
                    '     %s, %s},'
                    % (s["id"], s["ver"], s["sbits"], s["abits"], s["rank"], s["name"], s["std"],
                       s["kx"], s["au"], s["enc"], mac, cls, origin))
    src = open(out_path).read()
    begin = src.index("/* BEGIN GENERATED SUITES")
    begin = src.index("\n", begin) + 1
    end = src.index("    /* END GENERATED SUITES")
    src = src[:begin] + "\n".join(rows) + "\n" + src[end:]
    open(out_path, "w").write(src)
    print("%d suites (%d known to OpenSSL, %d to mbedTLS)" % (
        len(suites), sum("OPENSSL" in s["origin"] for s in suites.values()),
        sum("MBEDTLS" in s["origin"] for s in suites.values())))


def suites_by_name(suites, name):
    return next(s for s in suites.values() if s["name"] == name)


if __name__ == "__main__":
    main()
