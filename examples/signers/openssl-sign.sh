#!/bin/sh
# A tufkit signer command backed by OpenSSL and a private key file (PEM), for any scheme:
#   tufkit sign REPO ROLE --key KEY.pub --signer-command "examples/signers/openssl-sign.sh KEY.pem"
# Reads the bytes to sign on stdin and writes the raw signature on stdout; the scheme comes from
# TUFKIT_SCHEME, which tufkit sets when --key names the public key.
set -eu
key=${1:?usage: openssl-sign.sh PRIVATE-KEY.pem}
case "${TUFKIT_SCHEME:-}" in
  ed25519)
    # Ed25519 signs the message itself in one shot, and `pkeyutl -rawin` needs it as a file.
    msg=$(mktemp)
    trap 'rm -f "$msg"' EXIT
    cat >"$msg"
    openssl pkeyutl -sign -inkey "$key" -rawin -in "$msg"
    ;;
  ecdsa-sha2-nistp256 | rsa-pkcs1v15-sha256) openssl dgst -sha256 -sign "$key" ;;
  ecdsa-sha2-nistp384) openssl dgst -sha384 -sign "$key" ;;
  rsassa-pss-sha256) openssl dgst -sha256 -sign "$key" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest ;;
  '') echo "openssl-sign.sh: TUFKIT_SCHEME is not set (give tufkit --key with the public key)" >&2; exit 2 ;;
  *) echo "openssl-sign.sh: scheme $TUFKIT_SCHEME is not supported here" >&2; exit 2 ;;
esac
