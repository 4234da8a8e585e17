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

/* TLS server settings (HTTP/TLS): option and mode macros built from casts and SSL_CTX_ctrl. */
static inline void kc_ssl_ctx_harden(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                             | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                          | SSL_MODE_RELEASE_BUFFERS);
}
static inline int kc_ssl_ctx_set_min_tls12(SSL_CTX *ctx) { return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }
static inline void kc_bio_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline void kc_bio_set_retry_write(BIO *bio) { BIO_set_retry_write(bio); }
static inline void kc_bio_clear_retry(BIO *bio) { BIO_clear_retry_flags(bio); }
/* TLS client (Backends/Cloud): SNI is a macro over SSL_ctrl. */
static inline int kc_ssl_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
#endif
