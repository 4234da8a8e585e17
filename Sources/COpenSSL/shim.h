#ifndef KEYCOORD_COPENSSL_SHIM_H
#define KEYCOORD_COPENSSL_SHIM_H
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Composite macros that Swift cannot import. */
static inline int kc_selection_public_key(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int kc_pkey_ec(void) { return EVP_PKEY_EC; }
static inline int kc_pkey_rsa(void) { return EVP_PKEY_RSA; }
static inline long kc_bio_get_mem_data(BIO *bio, char **out) { return BIO_get_mem_data(bio, out); }
#endif
