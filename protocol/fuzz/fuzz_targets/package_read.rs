//! `.difypkg` packages as `dify-wasm verify` and the connector read them: untrusted zip bytes.
//! Nothing may panic; a package that reads has only clean relative paths, a checksum that is
//! 64 hex digits, and a signature check that answers (the seed `signed.difypkg` verifies with
//! this key, so mutations reach the RSA path).

#![no_main]

use dify_plugin_package::{Package, PublicKey};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The public half of the key that signed `seeds/package_read/signed.difypkg` (1024 bits:
/// quick, and only a test key).
const PUBLIC_KEY: &str = "-----BEGIN RSA PUBLIC KEY-----\nMIGJAoGBAJmiW3ZXEIkHzbjZIjIy2AmNnY32o+y9ulKOwx1rF5LW+AGn8QC+W9sw\nACBqYg+GUH0kfrEbM5xRAwBLQPobj2S117nWMaWA/6lJ2FTCuBORJwqyAi7OTcTJ\nUbEBn/q9UBi1f7f7rNrefGWPMIIXDEO1K8r/UKjX3b6gbkqQDJGBAgMBAAE=\n-----END RSA PUBLIC KEY-----\n";

fn key() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| PublicKey::from_pem(PUBLIC_KEY).expect("the fuzz key parses"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(package) = Package::read(data) else {
        return;
    };
    let checksum = package.checksum();
    assert!(checksum.len() == 64 && checksum.bytes().all(|b| b.is_ascii_hexdigit()));
    for path in package.paths() {
        assert!(!path.is_empty() && !path.starts_with('/') && !path.ends_with('/'));
        assert!(path.split('/').all(|part| !matches!(part, "" | "." | "..")));
        assert!(package.file(path).is_some());
    }
    if let Ok(identity) = package.identity() {
        assert_eq!(identity.checksum, checksum);
        let _ = identity.unique_identifier();
        let _ = identity.file_name();
    }
    let _ = package.verify_signature(std::slice::from_ref(key()));
});
