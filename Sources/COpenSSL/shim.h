#ifndef KRAKEN_AUDIT_COPENSSL_SHIM_H
#define KRAKEN_AUDIT_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
/* Ed25519 key files (Integrity): PKCS#8 private and SubjectPublicKeyInfo public keys read from memory BIOs. */
#include <openssl/bio.h>
#include <openssl/pem.h>

/* Process hardening (KrakenAPI/ProcessHardening.swift): prctl(2) is variadic, so Swift cannot import it;
   these fixed-arity wrappers can be. Kept here because every target holding secrets imports COpenSSL. */
#include <sys/prctl.h>
static inline int kraken_audit_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL); }
static inline int kraken_audit_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL); }
#endif
