#!/bin/sh
# A tufkit signer command for an ECDSA key on a PKCS#11 token (a hardware key, or SoftHSM2), via
# OpenSC's pkcs11-tool:
#   tufkit sign REPO ROLE --key KEY.pub --signer-command examples/signers/pkcs11-sign.sh
# Configuration from the environment: PKCS11_MODULE (the token's PKCS#11 library), PKCS11_TOKEN
# (token label), PKCS11_KEY_ID (hex id of the key object), PKCS11_PIN (user PIN).
# The token signs a digest (mechanism CKM_ECDSA) and returns raw r||s, which tufkit stores as DER.
set -eu
case "${TUFKIT_SCHEME:-ecdsa-sha2-nistp256}" in
  ecdsa-sha2-nistp256) hash=-sha256 ;;
  ecdsa-sha2-nistp384) hash=-sha384 ;;
  *) echo "pkcs11-sign.sh: scheme $TUFKIT_SCHEME is not an ECDSA scheme" >&2; exit 2 ;;
esac
# pkcs11-tool names the mechanism on stderr even on success: its stderr is shown only on failure.
# (--pin on the command line is visible in `ps` on multi-user machines; prefer a PIN pad there.)
err=$(mktemp)
trap 'rm -f "$err"' EXIT
if ! openssl dgst "$hash" -binary |
  pkcs11-tool --module "${PKCS11_MODULE:?set PKCS11_MODULE}" --token-label "${PKCS11_TOKEN:?set PKCS11_TOKEN}" \
    --login --pin "${PKCS11_PIN:?set PKCS11_PIN}" --sign --mechanism ECDSA --id "${PKCS11_KEY_ID:?set PKCS11_KEY_ID}" 2>"$err"; then
  grep -v '^Using signature algorithm' "$err" >&2
  exit 1
fi
