/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * fuzz-tr34.c: libFuzzer target for the TR-34 token parser and the whole
 * KRD receive path (structure, chain, CRL, signature, nonce, OAEP,
 * content decryption, key block), plus RBT/UBT receive and the
 * EnvelopedData and key block parsers on raw input.
 *
 * The KRD side of a fixed test PKI is embedded below (test material only,
 * made by tests/tr34-test-pki.c); corpus-tr34/ holds the Annex B tokens
 * of ASC X9 TR 34-2019 and two KT_KDH built by posprov-tool with that
 * PKI (strict 2-pass with nonce 00112233445566778899AABBCCDDEEFF, x9-2012
 * 1-pass), so mutations get past the signature and into decryption.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <openssl/pem.h>

#include "pp-openssl-types.h"
#include "pp-tr34-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char krd_cert_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIDTzCCAjegAwIBAgICIAEwDQYJKoZIhvcNAQELBQAwOjELMAkGA1UEBhMCQ04x\n"
  "FTATBgNVBAoMDHBvc3Byb3YgdGVzdDEUMBIGA1UEAwwLVGVzdCBDQSBLUkQwHhcN\n"
  "MjEwMTAxMDAwMDAwWhcNNDAwMTAxMDAwMDAwWjA5MQswCQYDVQQGEwJDTjEVMBMG\n"
  "A1UECgwMcG9zcHJvdiB0ZXN0MRMwEQYDVQQDDApUZXN0IEtSRCAxMIIBIjANBgkq\n"
  "hkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2UZUNKRpAymA2D/SUtnbfViSzcj4t6lN\n"
  "i7fFE38OdaTUM/r4h+PQK3KqP7HU8bfBEGDNfk8/RFBGDaqgl8JVZYdh2TwIHEcD\n"
  "MUGyww8Gn++IxcjHwveuG5Adx38xfaOP0l3fRimM47BA2DMWfhCa/ehd3x/pqe2Q\n"
  "SzKra4NgP5SiJZn6yFC/aS7b5T2j13GUnkuEIWj0rvbapeF3XNvpthFXWiK9Z2YC\n"
  "wT8YTW3g766m/Cra1+ygqh/zpUaO6h2svjMQjFYpJhQcZOHoEFquJ4RywGJakadV\n"
  "foJVCKlIGPgc1ivUDQRqi/gSQ9nFz81w5wxlFXdThP+7G4FTzkPdLwIDAQABo2Aw\n"
  "XjAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIFoDAdBgNVHQ4EFgQUMJjxP5/O\n"
  "z8d/vIIbnMbnr7OEK9cwHwYDVR0jBBgwFoAUyudQ3Q1G4RyziMgstxgCIFEzlmww\n"
  "DQYJKoZIhvcNAQELBQADggEBAGta88TfbODnaRQDMSgRFZemCaQ0yRWEQ9CkvdBk\n"
  "9ApzqBQHgcbbKfZiWOORZp2Ajho6FqBe6gyeZdfq07MHSaSaN11EuBi20/eppZf1\n"
  "+Vg9LECHFlwKfzpNxqOeQksDQvNKuol7wPZy2Uz9Oh+6v/OUFS2+jOVZYteC4hv+\n"
  "77hkZMEsNjzyPF4ZeAG+87InbbKkQaRPoaqbRa/T7Rd/ULuryK2ooD4TCLjafwPt\n"
  "w69A5HGJ6LSqaNXpPLg2cQB/urXnhNOr+cyPZLHSPJG6dOURt3RUpAp5MvTv6139\n"
  "3hDVfQYYCmXSdQT+q/ASppXVrK3ow0vYVMAI1LKNx0On77k=\n"
  "-----END CERTIFICATE-----\n";

static const char krd_key_pem[] =
  "-----BEGIN PRIVATE KEY-----\n"
  "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDZRlQ0pGkDKYDY\n"
  "P9JS2dt9WJLNyPi3qU2Lt8UTfw51pNQz+viH49Arcqo/sdTxt8EQYM1+Tz9EUEYN\n"
  "qqCXwlVlh2HZPAgcRwMxQbLDDwaf74jFyMfC964bkB3HfzF9o4/SXd9GKYzjsEDY\n"
  "MxZ+EJr96F3fH+mp7ZBLMqtrg2A/lKIlmfrIUL9pLtvlPaPXcZSeS4QhaPSu9tql\n"
  "4Xdc2+m2EVdaIr1nZgLBPxhNbeDvrqb8KtrX7KCqH/OlRo7qHay+MxCMVikmFBxk\n"
  "4egQWq4nhHLAYlqRp1V+glUIqUgY+BzWK9QNBGqL+BJD2cXPzXDnDGUVd1OE/7sb\n"
  "gVPOQ90vAgMBAAECggEAX3Xw5TgfE06W12wjAlfJgab6yQM1k6wE8BALvGckeTe0\n"
  "LCpmK35CJfS5LEb7oj/zyThe0NIMn/0M6lA/Qq4VSwhSS1l+zr28f1W4Ls9ZP8fE\n"
  "NfHjIpwjmOSW0OHnYqYMOIcZ4/+5cQgtVVAM39J35nrDU5b32LsRnJhkjFYqYYQj\n"
  "A8FEeg5ORnXvoSDRN+mcU1rPEwzKKjaoy9hla1Aut/rebqha50xkLS8GDPlVFCyW\n"
  "37CLnsVOexrJMshynRLMJk4hV6yRRcJYohTVUsyW5XMUjvkGnvQfKiurOlaaSjrs\n"
  "7d//j281FgrwJ/L342GZp2Zk7CW+T0paQ3Su4Xz4EQKBgQDsCQx/ziOQhN/iZbPD\n"
  "Adf5ZSAWeX3uK/kYmjZWu8VpjkXLCtoXDYrNGdhp3sUZ84SL8EF7NEEkWKRXaAyX\n"
  "rki89wSwRBB81/SaC8qzw3uZI66TNL/2/Ozrt9ZBspWqY3M7niCDdjR52Rea0VOl\n"
  "rnPj4Kfa5xNHgCdOcbJDtzxGNQKBgQDrpwzUTLYP5FMLtvou2mA5L3f5S4/wGRzr\n"
  "gewpL0o6BhpVjASxYOv7cOz94UQ0aqlbwDiUFT/unS9lbDVP97LJCkk2JFYqdj3S\n"
  "t20YGiRBOCqjMdLh+NBD/OFoVOeQ0+6v4s8uzzDGB6QUM3X2rbQe3BuiAOrqWXGd\n"
  "q7iH3U/yUwKBgQCaROfIeKDCCjaSMEqngAL62993EPz/t/nc3J37XkqOzRBMvtEA\n"
  "FDfOCcBqodFNPt444FTMA8E30j/HaRgh4yVjbEfCNRpZnoQeUuqvR2r3El09lVKK\n"
  "SZFIFyWQVvp/HPTp2FYD1jRCF2PYKkxzk2vnWqQa7MCrENWf7avHmnFoqQKBgHGM\n"
  "lf76U8QGlgmQCq9m5HTJrbq/MUVVJH1KplwWAGNDK49LH7vE4xDOkjOnRzEmsCKY\n"
  "1eps7thwfzUU1f+JcGm0/iALlEVzokiVwAicGBohEVJ/oIjoVppcENUwDEDaDipM\n"
  "VN7OUUcqyWI+hbnua1tvXhVK8ecoYDnEU++LsYknAoGACB1HcImBbVvdKGHoP9R7\n"
  "ShsKt9Ims2zCDKCTd3lVSRlKXjn5a2M9qpYmX01gzZk7KPt9waPnw45wzR8Ip1Vf\n"
  "YXxFWAq/7uPwp3Z5FqB8BQXUMO7EH32yHCN45kcwzxXmz4z8A7i0AHLq+VplkmFZ\n"
  "3JFkPYSWkKq2vxN7e/PKXn0=\n"
  "-----END PRIVATE KEY-----\n";

static const char trust_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIDLTCCAhWgAwIBAgIBATANBgkqhkiG9w0BAQsFADA4MQswCQYDVQQGEwJDTjEV\n"
  "MBMGA1UECgwMcG9zcHJvdiB0ZXN0MRIwEAYDVQQDDAlUZXN0IFJvb3QwHhcNMjAw\n"
  "MTAxMDAwMDAwWhcNNDUwMTAxMDAwMDAwWjA4MQswCQYDVQQGEwJDTjEVMBMGA1UE\n"
  "CgwMcG9zcHJvdiB0ZXN0MRIwEAYDVQQDDAlUZXN0IFJvb3QwggEiMA0GCSqGSIb3\n"
  "DQEBAQUAA4IBDwAwggEKAoIBAQDIVPNw6fYmkkZ6hR5p2GbtYBz8DVeR0NA1J7A9\n"
  "DQoptls7YP6SXXyt4tUmznSLV7spv7/s07jHqkQonnmeqTL9mf1rHNc4BkCmEaEh\n"
  "3MZq58Izu9hGls3+6eRv0tSFAP/mTTcOakR1vhYmdc9NeXBVx1P2vPez2niVvCN+\n"
  "dwhaC2dWFe9dGAmFgtBBoDGM1BM166N4jD09cbhFEJ13DYm5zE6iW8j+oCiyB/pj\n"
  "IuPvShIBcyA68cDPJ5BJ4TH+nRhAkm98z9JsiXvm7loYUEQNYp3eYFeTnR59PXd5\n"
  "uPkWenFhgKEx4CLJdxCtb43hFTczTdPlo8Yx+hzYEWlzMmzfAgMBAAGjQjBAMA8G\n"
  "A1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBTmUAEPUtdB\n"
  "zJWOezAYJTKJ7EksrjANBgkqhkiG9w0BAQsFAAOCAQEAS1QzJHDkX5pVShMsYgyH\n"
  "IbS5xzEi0HYkQQhL8k8tuHJgMqZA5I1biiCBzTJwtJ1co0l5IthOyAxiuZ0rEsjD\n"
  "4YPybZEvRlignBXJZ+YEBXkBVhS5ceFeV1KGataGXomxFtKP4rj6k/KavskEXuSk\n"
  "Bs8XZeCGKUr35+s9s8ycrcqUsSOJ7pul8nOXs7jEMidGDsFI04f/0qjlLCsZnVnX\n"
  "qErdcoZzU/aA8Gn3L7aorM/lm6itIee4S4tzHqk5Io9UcNKDzcXf/FZj+JvltGlH\n"
  "Xal1MnU50PWq66nPJUQxQivKggadCsy1IaOUcUDmIpIyeEyK3ygMo2eqmn6dCan6\n"
  "WA==\n"
  "-----END CERTIFICATE-----\n"
  "-----BEGIN CERTIFICATE-----\n"
  "MIIDUDCCAjigAwIBAgIBAjANBgkqhkiG9w0BAQsFADA4MQswCQYDVQQGEwJDTjEV\n"
  "MBMGA1UECgwMcG9zcHJvdiB0ZXN0MRIwEAYDVQQDDAlUZXN0IFJvb3QwHhcNMjAw\n"
  "MTAxMDAwMDAwWhcNNDUwMTAxMDAwMDAwWjA6MQswCQYDVQQGEwJDTjEVMBMGA1UE\n"
  "CgwMcG9zcHJvdiB0ZXN0MRQwEgYDVQQDDAtUZXN0IENBIEtESDCCASIwDQYJKoZI\n"
  "hvcNAQEBBQADggEPADCCAQoCggEBAM+CgN2KoeCRG3OuHiLgzAl3BfelEK0q3Xvw\n"
  "AZxGw6zlPfnG2mYAljAzxYmE/bjgJEG68azoHU/VfV0o5XGfpwIUMJ+RKpFANiq3\n"
  "KaeNzCXtNKJdTvGKmISl1JB/gjBqQaV6y3dJ3VNgZ4w9KekXC2N/exJB60toLT/r\n"
  "+cMY0Z8KEi3DCt67ixxHzGjnlQhSq/cDty9l8sfMAdOaaqLSj9ho9zzwaQ0CO4ju\n"
  "2xaYiE9wd4MV7nhf1STLFbI8g8b0f5UVLkuNWMzHv6TanyLjHLfCkMgWsX2zucAG\n"
  "IR74Du1HcnwUDTT6wVSv9SuIo+xtUdkgSBjNEubMD3Vzva+ZUV8CAwEAAaNjMGEw\n"
  "DwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFLfPPjrg\n"
  "6VLk8Z6htVdbwwQrvNL/MB8GA1UdIwQYMBaAFOZQAQ9S10HMlY57MBglMonsSSyu\n"
  "MA0GCSqGSIb3DQEBCwUAA4IBAQClWyjiR46pV3t4c5z7Sur/PfnUcaDYxgbxGZ/0\n"
  "GXrmMB0cxnUyXWb0M9F81GumHKp9+iF+UQ4xRf86xIpEwki8fXHftv6V0qTwixxV\n"
  "hSYGg9fJAYcqHYHDaTRC+quzT79r1eb0HUwHPiTcj6EgDS+Kgtb40fd5qjuXOj5p\n"
  "eGuCPVY5ECk+jgnzjO6zSpSBecb13HqmsXYNVieqzxizr/kZFlh/it3+Zjlfpr+X\n"
  "G0nOBPMF156nzPf34+2jr/DX5fkKaPnVDb17zv4t83aM/6UJTCnvLX069FYrxXrW\n"
  "+5SnzPq++xlaYlE+ufG1RhkE6x6Ae7RD3cfWK5KuFKi6allz\n"
  "-----END CERTIFICATE-----\n";

static const char kdh_cert_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIDTzCCAjegAwIBAgICEAEwDQYJKoZIhvcNAQELBQAwOjELMAkGA1UEBhMCQ04x\n"
  "FTATBgNVBAoMDHBvc3Byb3YgdGVzdDEUMBIGA1UEAwwLVGVzdCBDQSBLREgwHhcN\n"
  "MjEwMTAxMDAwMDAwWhcNNDAwMTAxMDAwMDAwWjA5MQswCQYDVQQGEwJDTjEVMBMG\n"
  "A1UECgwMcG9zcHJvdiB0ZXN0MRMwEQYDVQQDDApUZXN0IEtESCAxMIIBIjANBgkq\n"
  "hkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwYunaviwawZb0FWFhge1iVHCo/UeOa/a\n"
  "kUZghPdiTHzNdpHi7aO+CIttnCexKdgTKd1/noZV5a5MaSgZwO5vmyXSjITv8NQJ\n"
  "Q4NANexj0SQfG6VslM/tsnW9BMYMpzLgnV68GH48jtp5CImeyAPaIMCR21VVOg7a\n"
  "vX+5ElaKQOfkm0BUTynAkw2KBYF9VPLLFpLO+OEKnb2ojcvzRSO0p5qZEVAqvJmy\n"
  "Rhngm6bda7tdFfTdII/DlM1ks5Jxaj5FC6G7eWtCQ3c+8vvZGyyKZzUFYdGBnC0J\n"
  "26N2N+RrmKp15abq2SDPNAROvB47x3CfUv7pVsRevYrVvlT9NFSAcQIDAQABo2Aw\n"
  "XjAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIFoDAdBgNVHQ4EFgQU8EBK4S6L\n"
  "2r2qYQrnGhFU6GfWzeEwHwYDVR0jBBgwFoAUt88+OuDpUuTxnqG1V1vDBCu80v8w\n"
  "DQYJKoZIhvcNAQELBQADggEBACjdujZU+PtiihmwCrQBdXEV6GsfTCfKKYChtOJ/\n"
  "GX5vQSIK9xD6zOL3/xePqu/pyyc9O1kDWjXeTLarqM4E/AWShXJZm8Qgivy0T0b3\n"
  "to1sk+T/tci6zIRcSPXXdN/1lZUxLc1NPLgZKpPClZx8WmeviE5guwyL7dTCqiQ/\n"
  "UCg6vfjfSczN/7TdmFp5hOeugLxtIAVVdFoWuqReNvPqI00PDJYKZIKkM6fv3FGw\n"
  "Y73xte36YZpM/yJhn+idclPsFTH6c3sEScDHalbEmln6ceyo4BiTNFILXMXMNfWw\n"
  "4kw/wfM510XszsCW3t1Xgwst4xpWpbnxcJ058uEyCpfrvAE=\n"
  "-----END CERTIFICATE-----\n";

static const char crl_pem[] =
  "-----BEGIN X509 CRL-----\n"
  "MIIBmjCBgwIBATANBgkqhkiG9w0BAQsFADA6MQswCQYDVQQGEwJDTjEVMBMGA1UE\n"
  "CgwMcG9zcHJvdiB0ZXN0MRQwEgYDVQQDDAtUZXN0IENBIEtESBcNMjIwMTAxMDAw\n"
  "MDAwWhcNNDQwMTAxMDAwMDAwWjAVMBMCAhACFw0yMjAxMDEwMDAwMDBaMA0GCSqG\n"
  "SIb3DQEBCwUAA4IBAQCDQK6hg2OIjYUacIrJA7BGxWLHDbqiQZtSjOlwqoeLhXDF\n"
  "USWq+5WWb4d5VnrCTMlwqjQc1dkf3zi8gLzSYSp0aLb4+1yT3wxdIJDIBWYL9RwN\n"
  "gQOsf6x0qG4MV/1K5CVypC/EQJaNCJn9dHWwbSe7Kl7cAfYBlQy4JqLO7uMLCOEn\n"
  "Mh+TOHcE/TNe7iO/wWbAyXux706fFvesl4KPI3WClYDN+7tBWUXZTH0XhipitEPi\n"
  "eyeaHngKvCHncrHYg9BGy0pt2YrQLXtEPYyGPXw3iybMZN7d0at5IO98hOtJWVVD\n"
  "fFBhhNeDmsUJ9YvZAmv/jVX56NU2MKT1/BvQvSi7\n"
  "-----END X509 CRL-----\n";

static PpTr34Krd *krd;
static X509 *kdh_cert;
static GBytes *seed_nonce;

static void *
read_pem (const char *pem,
          int         kind)
{
  g_autoptr(BIO) bio = BIO_new_mem_buf (pem, -1);
  void *obj = NULL;

  switch (kind)
    {
    case 0:
      obj = PEM_read_bio_X509 (bio, NULL, NULL, NULL);
      break;
    case 1:
      obj = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
      break;
    default:
      obj = PEM_read_bio_X509_CRL (bio, NULL, NULL, NULL);
      break;
    }
  if (obj == NULL)
    abort ();
  return obj;
}

static void
setup (void)
{
  static const guint8 nonce[16] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
  };
  g_autoptr(X509) krd_cert = read_pem (krd_cert_pem, 0);
  g_autoptr(EVP_PKEY) krd_key = read_pem (krd_key_pem, 1);
  g_autoptr(X509_CRL) crl = read_pem (crl_pem, 2);
  g_autoptr(BIO) bio = BIO_new_mem_buf (trust_pem, -1);
  g_autoptr(GDateTime) at = g_date_time_new_utc (2030, 1, 1, 0, 0, 0);
  X509 *ca;

  krd = pp_tr34_krd_new (krd_cert, krd_key);
  while ((ca = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) != NULL)
    {
      pp_tr34_krd_add_trusted (krd, ca);
      X509_free (ca);
    }
  kdh_cert = read_pem (kdh_cert_pem, 0);
  pp_tr34_krd_set_kdh_cert (krd, kdh_cert);
  pp_tr34_krd_set_crl (krd, crl);
  /* A fixed verification time keeps runs reproducible. */
  pp_tr34_krd_set_time (krd, at);
  seed_nonce = g_bytes_new_static (nonce, sizeof nonce);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(PpTr34Token) token = NULL;
  g_autoptr(PpTr34KrdState) state = NULL;
  g_autoptr(PpTr34ReceivedKey) received = NULL;
  g_autoptr(X509) rebound = NULL;
  PpTr34Envelope env;
  PpTr34KeyBlock block;

  if (krd == NULL)
    setup ();

  token = pp_tr34_token_parse (data, size, NULL);
  if (token != NULL)
    {
      g_autofree char *signer = pp_tr34_token_dup_signer (token);
      g_autofree char *serial = pp_tr34_token_dup_signer_serial (token);
      g_auto(GStrv) recipients = pp_tr34_token_dup_recipients (token);

      if (pp_tr34_token_get_kind (token) == PP_TR34_TOKEN_UNKNOWN || recipients == NULL ||
          (signer == NULL) != (serial == NULL))
        abort ();
      if (token->signed_)
        pp_tr34_token_verify_signature (token, X509_get0_pubkey (kdh_cert), NULL);
    }

  /* A fresh state per input: the seed's nonce, and a 1-pass floor. */
  state = pp_tr34_krd_state_new ();
  pp_tr34_krd_state_add_nonce (state, seed_nonce);
  received = pp_tr34_krd_receive_key_token (krd, state, data, size, NULL);
  if (received != NULL && (received->key == NULL || received->kcv == NULL))
    abort ();
  rebound = pp_tr34_krd_receive_rebind_token (krd, state, data, size, NULL);
  if (rebound != NULL)
    pp_tr34_krd_set_kdh_cert (krd, kdh_cert);
  if (pp_tr34_krd_receive_unbind_token (krd, state, data, size, NULL))
    pp_tr34_krd_set_kdh_cert (krd, kdh_cert);
  g_clear_pointer (&rebound, X509_free);
  rebound = pp_tr34_krd_receive_ca_rebind_token (krd, state, data, size, NULL);
  if (rebound != NULL)
    pp_tr34_krd_set_kdh_cert (krd, kdh_cert);
  if (pp_tr34_krd_receive_ca_unbind_token (krd, state, data, size, NULL))
    pp_tr34_krd_set_kdh_cert (krd, kdh_cert);

  pp_tr34_envelope_parse (data, size, &env, NULL);
  pp_tr34_key_block_parse (data, size, &block, NULL);
  return 0;
}
