//! Why a package could not be read, checked, signed or built.

/// Every failure names what is wrong and, where there is one, what to do about it.
#[derive(thiserror::Error, Debug)]
pub enum PackageError {
    /// The bytes are not a zip archive the daemon could open.
    #[error("not a valid .difypkg (zip) archive: {0}")]
    NotZip(String),
    /// The uncompressed contents exceed the daemon's `MAX_PLUGIN_PACKAGE_SIZE`.
    #[error(
        "the package holds {total} bytes uncompressed, more than the daemon's limit of {limit} bytes (MAX_PLUGIN_PACKAGE_SIZE){biggest}; remove large files or shrink the component"
    )]
    TooLarge {
        /// Uncompressed bytes (at least this many).
        total: u64,
        /// The limit.
        limit: u64,
        /// A note naming the largest files, possibly empty.
        biggest: String,
    },
    /// An entry's name is unsafe or is not one the daemon could read back.
    #[error("illegal file path in plugin package: {0:?} ({1})")]
    BadPath(String, &'static str),
    /// An entry could not be decompressed.
    #[error("cannot read `{0}` from the package: {1}")]
    BadEntry(String, String),
    /// A required file is missing.
    #[error("the package has no `{0}`")]
    Missing(String),
    /// The manifest does not give a valid identity.
    #[error("invalid manifest.yaml: {0}")]
    BadManifest(String),
    /// The package carries no signature (empty zip comment).
    #[error(
        "the package is not signed (its zip comment is empty); sign it with `dify-wasm package --sign KEY.pem`"
    )]
    Unsigned,
    /// The zip comment is not the daemon's `{"signature":…,"time":…}` JSON.
    #[error("the package's signature comment is malformed: {0}")]
    MalformedSignature(String),
    /// The signature does not verify with any given key.
    #[error(
        "the package's signature does not match any given public key (tampered with, or signed with another key)"
    )]
    BadSignature,
    /// A key could not be parsed or made.
    #[error("bad key: {0}")]
    Key(String),
    /// The plugin directory's declarations are invalid.
    #[error("{0}")]
    Declaration(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl PackageError {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        PackageError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
