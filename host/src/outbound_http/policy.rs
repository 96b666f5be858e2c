//! Which origins a plugin may send HTTP requests to: an allow-list in the syntax of Spin's
//! `allowed_outbound_hosts`, so plugin authors who know one know the other.
//!
//! An entry is `SCHEME://HOST[:PORT]`:
//! - SCHEME is `http`, `https`, or `*` (either);
//! - HOST is a name (`api.example.com`), an IP address (`127.0.0.1`, `[::1]`), `*.example.com`
//!   (any subdomain of example.com at any depth, not example.com itself), or `*` (any host);
//! - PORT is a number, a range `8000..8100` (end excluded, as in Spin), or `*`; without it the
//!   scheme's default (80 for http, 443 for https; `*://host` allows both, each on its own).
//!
//! Nothing is allowed by default. An entry never grants a private, loopback, link-local or
//! unspecified address unless its HOST is written out literally (`http://127.0.0.1:8080`,
//! `http://localhost:8080`, `http://intranet.corp`): a wildcard host never reaches them, so
//! `https://*` cannot be turned against the host's own network (see `address.rs`).

use std::fmt;
use std::net::IpAddr;

use rustls::pki_types::CertificateDer;
use thiserror::Error;

/// An allow-list entry that cannot be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error(
    "`{entry}` is not an allowed outbound origin: {reason}; write it as SCHEME://HOST[:PORT], e.g. `https://api.example.com`, `https://*.example.com`, `http://127.0.0.1:8080`"
)]
pub struct OriginError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The origins a plugin may reach over HTTP. Empty (the default) denies every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpPolicy {
    origins: Vec<AllowedOrigin>,
    /// Certificate authorities trusted for HTTPS besides the system's (`trust.rs`).
    trusted: Vec<CertificateDer<'static>>,
}

impl HttpPolicy {
    /// The policy that denies everything: what a plugin gets unless something allows more.
    pub fn deny_all() -> HttpPolicy {
        HttpPolicy::default()
    }

    /// Reads allow-list entries (see the module's documentation for their syntax).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<HttpPolicy, OriginError> {
        let origins = entries
            .iter()
            .map(|entry| AllowedOrigin::parse(entry.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(HttpPolicy {
            origins,
            trusted: Vec::new(),
        })
    }

    /// This policy trusting also `certificates` (DER) as authorities for HTTPS; see
    /// [`HttpPolicy::trust_ca_file`] for a PEM file.
    pub fn trust_certificates(
        mut self,
        certificates: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> HttpPolicy {
        for cert in certificates {
            if !self.trusted.contains(&cert) {
                self.trusted.push(cert);
            }
        }
        self
    }

    /// The authorities trusted for HTTPS besides the system's.
    pub fn trusted_certificates(&self) -> &[CertificateDer<'static>] {
        &self.trusted
    }

    /// This policy allowing also what `other` allows: how a CLI flag or an embedder adds to
    /// the list the plugin's files declare. The authorities `other` trusts are added too.
    pub fn extend(mut self, other: &HttpPolicy) -> HttpPolicy {
        for origin in &other.origins {
            if !self.origins.contains(origin) {
                self.origins.push(origin.clone());
            }
        }
        self.trust_certificates(other.trusted.iter().cloned())
    }

    /// Whether nothing is allowed.
    pub fn is_deny_all(&self) -> bool {
        self.origins.is_empty()
    }

    /// The entries, as they would be written.
    pub fn entries(&self) -> Vec<String> {
        self.origins.iter().map(ToString::to_string).collect()
    }

    /// What the policy says about a request to `scheme://host:port`; `host` without brackets,
    /// in lower case.
    pub(crate) fn decide(&self, scheme: Scheme, host: &str, port: u16) -> Decision {
        let mut decision = Decision::Denied;
        for origin in &self.origins {
            if origin.matches(scheme, host, port) {
                if origin.host.is_literal() {
                    return Decision::AllowedLiterally;
                }
                decision = Decision::AllowedByWildcard;
            }
        }
        decision
    }
}

/// The answer of [`HttpPolicy::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No entry matches.
    Denied,
    /// Only entries with a wildcard host match: public addresses only.
    AllowedByWildcard,
    /// An entry names this host literally: its private or loopback addresses are allowed too.
    AllowedLiterally,
}

/// The two schemes a plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemePattern {
    Any,
    Only(Scheme),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.suffix`: the suffix without its leading dot.
    Subdomains(String),
    Exact(String),
}

impl HostPattern {
    fn is_literal(&self) -> bool {
        matches!(self, HostPattern::Exact(_))
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .and_then(|head| head.strip_suffix('.'))
                .is_some_and(|head| !head.is_empty()),
            HostPattern::Exact(exact) => exact == host,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    /// The scheme's default port.
    Default,
    Any,
    /// `start..end`, end excluded.
    Range(u16, u16),
    Exact(u16),
}

/// One entry of the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedOrigin {
    scheme: SchemePattern,
    host: HostPattern,
    port: PortPattern,
}

impl AllowedOrigin {
    fn parse(entry: &str) -> Result<AllowedOrigin, OriginError> {
        let fail = |reason: &str| OriginError {
            entry: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = entry.trim();
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Err(fail("it has no scheme (`https://`, `http://` or `*://`)"));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "*" => SchemePattern::Any,
            "http" => SchemePattern::Only(Scheme::Http),
            "https" => SchemePattern::Only(Scheme::Https),
            _ => return Err(fail("only http and https are supported")),
        };
        // An origin: a trailing slash is tolerated, a path is not.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) || authority.is_empty() {
            return Err(fail(
                "an origin is scheme, host and port only (no path, query or user)",
            ));
        }
        let (host, port) =
            split_host_port(authority).ok_or_else(|| fail("its port is not valid"))?;
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if !valid_name(suffix) {
                return Err(fail("the domain after `*.` is not a valid host name"));
            }
            HostPattern::Subdomains(suffix.to_owned())
        } else if host.parse::<IpAddr>().is_ok() || valid_name(&host) {
            HostPattern::Exact(host)
        } else {
            return Err(fail(
                "its host is not a host name, an IP address, `*.domain` or `*`",
            ));
        };
        let port = match port {
            None => PortPattern::Default,
            Some("*") => PortPattern::Any,
            Some(p) => match p.split_once("..") {
                Some((start, end)) => {
                    let (Ok(start), Ok(end)) = (start.parse::<u16>(), end.parse::<u16>()) else {
                        return Err(fail("its port range is not two numbers like `8000..8100`"));
                    };
                    if start >= end {
                        return Err(fail("its port range is empty (the end is excluded)"));
                    }
                    PortPattern::Range(start, end)
                }
                None => match p.parse::<u16>() {
                    Ok(port) if port > 0 => PortPattern::Exact(port),
                    _ => return Err(fail("its port is not a number from 1 to 65535")),
                },
            },
        };
        Ok(AllowedOrigin { scheme, host, port })
    }

    fn matches(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        let scheme_ok = match self.scheme {
            SchemePattern::Any => true,
            SchemePattern::Only(s) => s == scheme,
        };
        let port_ok = match self.port {
            PortPattern::Default => port == scheme.default_port(),
            PortPattern::Any => true,
            PortPattern::Range(start, end) => (start..end).contains(&port),
            PortPattern::Exact(p) => p == port,
        };
        scheme_ok && port_ok && self.host.matches(host)
    }
}

impl fmt::Display for AllowedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scheme {
            SchemePattern::Any => f.write_str("*://")?,
            SchemePattern::Only(s) => write!(f, "{}://", s.name())?,
        }
        match &self.host {
            HostPattern::Any => f.write_str("*")?,
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}")?,
            HostPattern::Exact(host) if host.contains(':') => write!(f, "[{host}]")?,
            HostPattern::Exact(host) => f.write_str(host)?,
        }
        match self.port {
            PortPattern::Default => Ok(()),
            PortPattern::Any => f.write_str(":*"),
            PortPattern::Range(start, end) => write!(f, ":{start}..{end}"),
            PortPattern::Exact(port) => write!(f, ":{port}"),
        }
    }
}

/// `host` and `port` of an authority; the host of `[v6]:port` without its brackets. `None`
/// when a bracket or the port is malformed.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((
                host,
                Some(after.strip_prefix(':').filter(|p| !p.is_empty())?),
            )),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && !host.contains(':') => Some((host, Some(port))),
        Some(_) => None,
        None => Some((authority, None)),
    }
}

/// A DNS name: dot-separated labels of letters, digits, `-` and `_`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The canonical text of an origin, as a plugin author would add it to the allow-list.
pub(crate) fn origin_text(scheme: Scheme, host: &str, port: u16) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    if port == scheme.default_port() {
        format!("{}://{host}", scheme.name())
    } else {
        format!("{}://{host}:{port}", scheme.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> HttpPolicy {
        HttpPolicy::parse(entries).unwrap()
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        assert_eq!(
            HttpPolicy::deny_all().decide(Scheme::Https, "example.com", 443),
            Decision::Denied
        );
    }

    #[test]
    fn an_origin_without_port_allows_the_default_port_of_its_scheme_only() {
        let p = policy(&["https://api.example.com"]);
        assert_eq!(
            p.decide(Scheme::Https, "api.example.com", 443),
            Decision::AllowedLiterally
        );
        assert_eq!(
            p.decide(Scheme::Https, "api.example.com", 8443),
            Decision::Denied
        );
        assert_eq!(
            p.decide(Scheme::Http, "api.example.com", 80),
            Decision::Denied
        );
        assert_eq!(
            p.decide(Scheme::Https, "example.com", 443),
            Decision::Denied
        );
        assert_eq!(
            p.decide(Scheme::Https, "x.api.example.com", 443),
            Decision::Denied
        );
        let any_scheme = policy(&["*://example.com"]);
        assert!(any_scheme.decide(Scheme::Http, "example.com", 80) != Decision::Denied);
        assert!(any_scheme.decide(Scheme::Https, "example.com", 443) != Decision::Denied);
        assert_eq!(
            any_scheme.decide(Scheme::Http, "example.com", 443),
            Decision::Denied
        );
    }

    #[test]
    fn a_subdomain_wildcard_matches_subdomains_at_any_depth_but_not_the_domain() {
        let p = policy(&["https://*.example.com"]);
        assert_eq!(
            p.decide(Scheme::Https, "api.example.com", 443),
            Decision::AllowedByWildcard
        );
        assert_eq!(
            p.decide(Scheme::Https, "a.b.example.com", 443),
            Decision::AllowedByWildcard
        );
        assert_eq!(
            p.decide(Scheme::Https, "example.com", 443),
            Decision::Denied
        );
        assert_eq!(
            p.decide(Scheme::Https, "badexample.com", 443),
            Decision::Denied
        );
        assert_eq!(
            p.decide(Scheme::Https, "example.com.evil.io", 443),
            Decision::Denied
        );
    }

    #[test]
    fn ports_may_be_any_a_range_or_exact() {
        let p = policy(&[
            "http://localhost:*",
            "https://h.io:8000..8002",
            "http://[::1]:9000",
        ]);
        assert_eq!(
            p.decide(Scheme::Http, "localhost", 1),
            Decision::AllowedLiterally
        );
        assert_eq!(
            p.decide(Scheme::Https, "h.io", 8001),
            Decision::AllowedLiterally
        );
        assert_eq!(p.decide(Scheme::Https, "h.io", 8002), Decision::Denied);
        assert_eq!(
            p.decide(Scheme::Http, "::1", 9000),
            Decision::AllowedLiterally
        );
        assert_eq!(
            p.entries(),
            [
                "http://localhost:*",
                "https://h.io:8000..8002",
                "http://[::1]:9000"
            ]
        );
    }

    #[test]
    fn a_literal_entry_wins_over_a_wildcard_one() {
        let p = policy(&["http://*:8080", "http://127.0.0.1:8080"]);
        assert_eq!(
            p.decide(Scheme::Http, "127.0.0.1", 8080),
            Decision::AllowedLiterally
        );
        assert_eq!(
            p.decide(Scheme::Http, "10.0.0.1", 8080),
            Decision::AllowedByWildcard
        );
    }

    #[test]
    fn malformed_entries_are_refused_with_the_reason() {
        for (entry, reason) in [
            ("example.com", "no scheme"),
            ("ftp://example.com", "only http and https"),
            ("https://example.com/path", "no path"),
            ("https://user@example.com", "no path"),
            ("https://example.com:0", "1 to 65535"),
            ("https://example.com:99999", "1 to 65535"),
            ("https://example.com:9..3", "empty"),
            ("https://exa mple.com", "not a host name"),
            ("https://*.", "not a valid host name"),
            ("https://[::1", "port is not valid"),
        ] {
            let error = HttpPolicy::parse(&[entry]).unwrap_err();
            assert!(error.to_string().contains(reason), "{entry}: {error}");
        }
        assert!(HttpPolicy::parse(&["HTTPS://API.Example.com/"]).is_ok());
    }

    #[test]
    fn extend_adds_what_is_not_there_yet() {
        let p = policy(&["https://a.io"]).extend(&policy(&["https://a.io", "https://b.io"]));
        assert_eq!(p.entries(), ["https://a.io", "https://b.io"]);
    }

    #[test]
    fn origin_text_leaves_out_the_default_port() {
        assert_eq!(origin_text(Scheme::Https, "a.io", 443), "https://a.io");
        assert_eq!(origin_text(Scheme::Http, "::1", 8080), "http://[::1]:8080");
    }
}
