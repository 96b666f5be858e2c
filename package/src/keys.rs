//! RSA keys in the PEM forms the daemon loads (`pkg/utils/encryption/rsa.go`).

use crate::PackageError;
use rsa::pkcs1::{
    DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey, EncodeRsaPublicKey,
};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// A public key that may verify package signatures: PEM `RSA PUBLIC KEY` (PKCS#1), the only
/// form the daemon's `LoadPublicKey` accepts.
#[derive(Clone, Debug)]
pub struct PublicKey(RsaPublicKey);

/// A private key that signs packages: PEM `RSA PRIVATE KEY` (PKCS#1), as the daemon's own
/// signer (`LoadPrivateKey`) reads it.
#[derive(Clone)]
pub struct PrivateKey(RsaPrivateKey);

/// The daemon refuses a PEM with anything but whitespace after the block (`rest` must be empty
/// after `pem.Decode`, which eats the END line's line ending).
fn single_block<'a>(pem: &'a str, label: &str) -> Result<&'a str, PackageError> {
    let end = format!("-----END {label}-----");
    let trimmed = pem.trim_start();
    if !trimmed.starts_with(&format!("-----BEGIN {label}-----")) {
        return Err(PackageError::Key(format!(
            "expected a PEM block `{label}` (PKCS#1, as the daemon requires); convert with `openssl rsa -RSAPublicKey_out` / `openssl rsa -traditional`, or make one with `dify-wasm keygen`"
        )));
    }
    let Some(at) = trimmed.find(&end) else {
        return Err(PackageError::Key(format!(
            "the PEM block `{label}` has no END line"
        )));
    };
    let after = &trimmed[at + end.len()..];
    let after = after
        .strip_prefix("\r\n")
        .or_else(|| after.strip_prefix('\n'))
        .unwrap_or(after);
    if !after.is_empty() {
        return Err(PackageError::Key(
            "extra data after the PEM block (the daemon refuses it)".into(),
        ));
    }
    Ok(&trimmed[..at + end.len()])
}

impl PublicKey {
    /// Parses `-----BEGIN RSA PUBLIC KEY-----` PEM text.
    pub fn from_pem(pem: &str) -> Result<PublicKey, PackageError> {
        let block = single_block(pem, "RSA PUBLIC KEY")?;
        RsaPublicKey::from_pkcs1_pem(block)
            .map(PublicKey)
            .map_err(|e| PackageError::Key(format!("cannot parse the RSA public key: {e}")))
    }

    /// The key as `RSA PUBLIC KEY` PEM, the form `THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS` files hold.
    pub fn to_pem(&self) -> String {
        self.0
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap_or_default()
    }

    pub(crate) fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = Signature::try_from(signature) else {
            return false;
        };
        VerifyingKey::<Sha256>::new(self.0.clone())
            .verify(data, &signature)
            .is_ok()
    }
}

impl PrivateKey {
    /// Parses `-----BEGIN RSA PRIVATE KEY-----` PEM text.
    pub fn from_pem(pem: &str) -> Result<PrivateKey, PackageError> {
        let block = single_block(pem, "RSA PRIVATE KEY")?;
        RsaPrivateKey::from_pkcs1_pem(block)
            .map(PrivateKey)
            .map_err(|e| PackageError::Key(format!("cannot parse the RSA private key: {e}")))
    }

    /// The key as `RSA PRIVATE KEY` PEM.
    pub fn to_pem(&self) -> String {
        self.0
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.to_public_key())
    }

    /// RSA PKCS#1 v1.5 with SHA-256 (`encryption.RSASign`).
    pub(crate) fn sign(&self, data: &[u8]) -> Vec<u8> {
        SigningKey::<Sha256>::new(self.0.clone())
            .sign(data)
            .to_vec()
    }
}

/// A fresh RSA key pair of `bits` bits (the daemon's signer uses 4096; 2048 is quicker).
pub fn generate_key_pair(bits: usize) -> Result<PrivateKey, PackageError> {
    RsaPrivateKey::new(&mut rand_core::OsRng, bits)
        .map(PrivateKey)
        .map_err(|e| PackageError::Key(format!("cannot generate an RSA key: {e}")))
}
