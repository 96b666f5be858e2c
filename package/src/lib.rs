//! Dify `.difypkg` plugin packages, exactly as the plugin daemon reads, checks and signs them.
//!
//! A package is a plain zip (daemon `pkg/plugin_packager/decoder/zip.go`). This crate reads
//! untrusted packages ([`Package::read`]: size limit, safe paths, no panics), computes the
//! daemon's checksum and identity, verifies and makes signatures, extracts packages as the
//! local runtime does, and builds packages from a plugin directory ([`build`]).
//!
//! Daemon rules reproduced here, with where they come from (langgenius/dify-plugin-daemon):
//! - walk order = the zip's central-directory order, every entry, directories included
//!   (`decoder/zip.go: Walk`); a directory entry cannot be read (`ReadFile`), so the daemon's
//!   checksum fails on it: [`Package::read`] refuses directory entries and [`build`] writes none;
//! - checksum = hex(sha256(concat over entries sorted by path of sha256(path) || sha256(content)))
//!   (`decoder/checksum.go: CalculateChecksum`), `.verification.dify.json` included;
//! - signature: RSA PKCS#1 v1.5 over SHA-256 (`pkg/utils/encryption/rsa.go: RSASign/VerifySign`)
//!   of concat(sha256(content) for every entry in walk order) followed by the decimal `time`
//!   (`decoder/verifier.go: VerifyPluginWithPublicKeys`); the zip comment is
//!   `{"signature":"<base64 std>","time":<unix seconds>}` (`decoder/zip.go: decode`,
//!   `signer/withkey/sign_with_key.go: SignPluginWithPrivateKey`), and signing appends
//!   `.verification.dify.json` (`{"authorized_category":…}`, `decoder/entities.go`) as the last
//!   entry, covered by the signature and the checksum;
//! - keys are PEM PKCS#1: `RSA PRIVATE KEY` / `RSA PUBLIC KEY` with nothing after the block
//!   (`encryption/rsa.go: LoadPrivateKey/LoadPublicKey`); `THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS`
//!   is a comma-separated list of public key *file paths* (`internal/types/app/config.go`,
//!   `decoder/verifier.go: VerifyPluginWithPublicKeyPaths`), read only when
//!   `THIRD_PARTY_SIGNATURE_VERIFICATION_ENABLED=true` (`decoder/helper.go: verified`);
//! - size: the sum of the entries' declared uncompressed sizes ≤ `MAX_PLUGIN_PACKAGE_SIZE`
//!   (`decoder/zip.go: NewZipPluginDecoderWithSizeLimit`);
//! - identity `author/name:version@checksum` (`decoder/helper.go: UniqueIdentity`,
//!   `plugin_entities/identity.go`), author `^[a-z0-9_-]{1,64}$`, name `^[a-z0-9_-]{1,128}$`
//!   (`plugin_entities/plugin_declaration.go: ManifestValidate`), an author that parses as a
//!   UUID marks a remote-debug plugin (`identity.go: RemoteLike`) and is refused;
//! - extraction: every file mode 0644, directories 0755, no path outside the target
//!   (`decoder/zip.go: ExtractTo`).

mod build;
mod error;
mod keys;
mod read;

pub use build::{BuildOptions, SHIM_MAIN_PY, SHIM_REQUIREMENTS, build, host_binary_path, sign};
pub use error::PackageError;
pub use keys::{PrivateKey, PublicKey, generate_key_pair};
pub use read::{Package, PackageIdentity};

/// The daemon's default `MAX_PLUGIN_PACKAGE_SIZE`: the most uncompressed bytes a package may hold.
pub const MAX_PACKAGE_BYTES: u64 = 52_428_800;

/// Where `dify-wasm package` puts the component inside the package.
pub const COMPONENT_PATH: &str = "plugin.wasm";

/// The file signing adds (`pkg/plugin_packager/consts/verification.go: VERIFICATION_FILE`).
pub const VERIFICATION_FILE: &str = ".verification.dify.json";
