//! The plugin daemon's vocabulary and patterns, copied from its Go sources
//! (langgenius/dify-plugin-daemon, `pkg/entities/...`) so that a declaration is refused here,
//! with a useful message, exactly when the daemon would refuse it.

/// `manifest_entities/version.go`: `^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$` (RE2: ASCII classes).
pub(crate) fn is_version(text: &str) -> bool {
    let (numbers, suffix) = match text.split_once('-') {
        Some((numbers, suffix)) => (numbers, Some(suffix)),
        None => (text, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let numbers_ok = parts.len() == 3
        && parts
            .iter()
            .all(|part| (1..=4).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix
        .is_none_or(|suffix| (1..=16).contains(&suffix.len()) && suffix.bytes().all(is_word_byte));
    numbers_ok && suffix_ok
}

/// `plugin_declaration.go` `AuthorRegex`: `^[a-z0-9_-]{1,64}$`.
pub(crate) fn is_plugin_author(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(is_lower_name_byte)
}

/// `plugin_declaration.go` `PluginNameRegex`: `^[a-z0-9_-]{1,128}$`.
pub(crate) fn is_plugin_name(text: &str) -> bool {
    (1..=128).contains(&text.len()) && text.bytes().all(is_lower_name_byte)
}

/// `tool_declaration.go` `toolProviderIdentityNameRegex` and `toolIdentityNameRegex`:
/// `^[a-zA-Z0-9_-]+$`.
pub(crate) fn is_identity_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_lower_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `manifest_entities/tags.go` `isPluginTag`.
pub(crate) const PLUGIN_TAGS: &[&str] = &[
    "search",
    "image",
    "videos",
    "weather",
    "finance",
    "design",
    "travel",
    "social",
    "news",
    "medical",
    "productivity",
    "education",
    "business",
    "entertainment",
    "utilities",
    "agent",
    "rag",
    "other",
    "trigger",
];

/// `tool_declaration.go` `isToolParameterType`.
pub(crate) const TOOL_PARAMETER_TYPES: &[&str] = &[
    "string",
    "number",
    "boolean",
    "select",
    "secret-input",
    "file",
    "files",
    "app-selector",
    "model-selector",
    "any",
    "dynamic-select",
    "array",
    "object",
    "checkbox",
    "date",
    "date-range",
];

/// The parameter type whose options the plugin computes (`fetch_parameter_options`).
pub(crate) const DYNAMIC_SELECT: &str = "dynamic-select";

/// The parameter types that may take several values (the SDK's `ToolParameter.validate_multiple`).
pub(crate) const MULTIPLE_CHOICE_TYPES: &[&str] = &["select", DYNAMIC_SELECT];

/// `tool_declaration.go` `isToolParameterForm`.
pub(crate) const TOOL_PARAMETER_FORMS: &[&str] = &["schema", "form", "llm"];

/// `tool_declaration.go` `isParameterAutoGenerateType`.
pub(crate) const AUTO_GENERATE_TYPES: &[&str] = &["prompt_instruction"];

/// `config.go` `isCredentialType`: the types of a provider's credential and OAuth settings.
pub(crate) const CREDENTIAL_TYPES: &[&str] = &[
    "secret-input",
    "text-input",
    "select",
    "boolean",
    "app-selector",
    "model-selector",
    "array[tools]",
];

/// `config.go` `isAppSelectorScope`.
const APP_SELECTOR_SCOPES: &[&str] = &["all", "chat", "workflow", "completion"];

/// `config.go` `isModelConfigScope` (which, unlike the model settings, has no `all`).
const MODEL_SELECTOR_SCOPES: &[&str] = &[
    "llm",
    "text-embedding",
    "rerank",
    "tts",
    "speech2text",
    "moderation",
    "vision",
    "document",
    "tool-call",
];

/// `config.go` `isVarSelectorScope`.
const ANY_SCOPES: &[&str] = &[
    "string",
    "number",
    "object",
    "array[number]",
    "array[string]",
    "array[object]",
    "array[file]",
];

/// `config.go` `isScope`: the scopes a setting or parameter of type `kind` may have; `None`
/// when that type takes no scope at all.
pub(crate) fn scopes_for(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "app-selector" => Some(APP_SELECTOR_SCOPES),
        "model-selector" => Some(MODEL_SELECTOR_SCOPES),
        "any" => Some(ANY_SCOPES),
        _ => None,
    }
}

/// `config.go`: a scope is several joined by `&`, and the daemon accepts it when any one of
/// them is known.
pub(crate) fn is_scope_allowed(scopes: &[&str], scope: &str) -> bool {
    scope.split('&').any(|part| scopes.contains(&part.trim()))
}

/// `constants/language.go` `isAvailableLanguage`: the only runner language the daemon takes.
pub(crate) const DAEMON_LANGUAGE: &str = "python";

/// `constants/arch.go` `isAvailableArch`.
pub(crate) const DAEMON_ARCHES: &[&str] = &["amd64", "arm64"];

/// `runtime_intialization_handlers.go` `handleAssetsTransfer`: at most 50 MiB of assets, counted
/// on the base64 text before decoding.
pub(crate) const MAX_ASSETS_BASE64_BYTES: u64 = 50 * 1024 * 1024;

/// The base64 length of `bytes` bytes.
pub(crate) fn base64_len(bytes: u64) -> u64 {
    bytes.div_ceil(3).saturating_mul(4)
}

/// `basic_type.go` `I18nObject`: every language `lt=1024`, counted in characters as Go's
/// validator counts runes.
pub(crate) const MAX_TEXT_CHARS: usize = 1023;

/// go-playground's `url` validator as the daemon applies it to `repo`: a scheme, and a host
/// (or a fragment, or an opaque part); a `file:` URL needs a path.
pub(crate) fn is_url(text: &str) -> bool {
    let lower = text.to_lowercase();
    let Ok(url) = url::Url::parse(&lower) else {
        return false;
    };
    if url.scheme() == "file" {
        return !url.path().is_empty() && url.path() != "/";
    }
    url.host_str().is_some_and(|host| !host.is_empty())
        || url.fragment().is_some_and(|fragment| !fragment.is_empty())
        || url.cannot_be_a_base()
}

/// Why a `created_at` is refused, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeProblem {
    /// Not the `2006-01-02T15:04:05Z07:00` shape, or a field out of range.
    NotRfc3339,
    /// Go's zero time, which the daemon's `required` refuses.
    Zero,
}

/// Go's `time.Time.UnmarshalJSON` (strict RFC 3339: `T` and `Z` upper case, two-digit fields,
/// an optional fraction, `Z` or `±hh:mm`) followed by the validator's `required` (not the zero
/// time `0001-01-01T00:00:00Z`).
pub(crate) fn check_created_at(text: &str) -> Result<(), TimeProblem> {
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if digits.iter().all(u8::is_ascii_digit) {
            Some(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
        } else {
            None
        }
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(at, c)| b.get(at) == Some(&c)) {
        return Err(TimeProblem::NotRfc3339);
    }
    let fields = (
        number(0..4),
        number(5..7),
        number(8..10),
        number(11..13),
        number(14..16),
        number(17..19),
    );
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields
    else {
        return Err(TimeProblem::NotRfc3339);
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(TimeProblem::NotRfc3339);
    }
    let mut rest = &b[19..];
    let mut fraction_is_zero = true;
    if rest.len() >= 2 && rest[0] == b'.' && rest[1].is_ascii_digit() {
        let digits = rest[1..].iter().take_while(|d| d.is_ascii_digit()).count();
        // Go keeps nanoseconds: digits past the ninth do not count.
        fraction_is_zero = rest[1..=digits].iter().take(9).all(|&d| d == b'0');
        rest = &rest[1 + digits..];
    }
    let offset_seconds = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (Some(hours), Some(minutes)) = (two(*h1, *h2), two(*m1, *m2)) else {
                return Err(TimeProblem::NotRfc3339);
            };
            if hours > 23 || minutes > 59 {
                return Err(TimeProblem::NotRfc3339);
            }
            let magnitude = hours * 3600 + minutes * 60;
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return Err(TimeProblem::NotRfc3339),
    };
    let local = (days_from_civil(year, month, day) - days_from_civil(1, 1, 1)) * 86_400
        + hour * 3600
        + minute * 60
        + second;
    if local - offset_seconds == 0 && fraction_is_zero {
        return Err(TimeProblem::Zero);
    }
    Ok(())
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_daemon_pattern() {
        for good in ["0.0.1", "1.22.333", "9999.0.0", "1.0.0-beta_1", "1.0.0-a"] {
            assert!(is_version(good), "{good}");
        }
        for bad in [
            "1.0",
            "1.0.0.0",
            "v1.0.0",
            "10000.0.0",
            "1.0.0-",
            "1.0.0-a.b",
            "1..0",
            "١.0.0",
        ] {
            assert!(!is_version(bad), "{bad}");
        }
        assert!(
            !is_version("1.0.0-abcdefghijklmnopq"),
            "17-character suffix"
        );
    }

    #[test]
    fn names_follow_the_daemon_patterns() {
        assert!(
            is_plugin_name("my_plugin-2") && !is_plugin_name("MyPlugin") && !is_plugin_name("")
        );
        assert!(is_plugin_author(&"a".repeat(64)) && !is_plugin_author(&"a".repeat(65)));
        assert!(
            is_identity_name("Echo_2-x") && !is_identity_name("echo tool") && !is_identity_name("")
        );
    }

    #[test]
    fn scopes_accept_any_known_part() {
        let model = scopes_for("model-selector").unwrap_or_default();
        assert!(is_scope_allowed(model, "llm"));
        assert!(is_scope_allowed(model, "bogus & vision"));
        assert!(!is_scope_allowed(model, "all"));
        assert!(scopes_for("string").is_none());
    }

    #[test]
    fn created_at_is_strict_rfc3339_and_not_go_zero_time() {
        for good in [
            "2025-01-01T00:00:00Z",
            "2024-02-29T23:59:59.123456789+05:30",
            "0001-01-01T00:00:00.5Z",
            "0001-01-01T00:00:00-00:01",
        ] {
            assert_eq!(check_created_at(good), Ok(()), "{good}");
        }
        for bad in [
            "2025-01-01",
            "2025-01-01 00:00:00Z",
            "2025-01-01t00:00:00Z",
            "2025-01-01T00:00:00z",
            "2025-01-01T00:00:00",
            "2025-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:00:60Z",
            "2025-01-01T00:00:00+0100",
            "2025-01-01T00:00:00.Z",
        ] {
            assert_eq!(check_created_at(bad), Err(TimeProblem::NotRfc3339), "{bad}");
        }
        for zero in [
            "0001-01-01T00:00:00Z",
            "0001-01-01T01:30:00+01:30",
            "0000-12-31T23:00:00-01:00",
            "0001-01-01T00:00:00.0000000001Z",
        ] {
            assert_eq!(check_created_at(zero), Err(TimeProblem::Zero), "{zero}");
        }
    }

    #[test]
    fn repo_urls_need_a_scheme_and_a_host() {
        assert!(is_url("https://github.com/langgenius/dify-plugins"));
        assert!(is_url("HTTPS://GitHub.com/x"));
        assert!(!is_url("github.com/langgenius/dify-plugins"));
        assert!(!is_url(""));
        assert!(!is_url("file:///"));
    }

    #[test]
    fn base64_length_rounds_up_to_whole_quads() {
        assert_eq!(base64_len(0), 0);
        assert_eq!(base64_len(1), 4);
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(8192), 10_924);
    }
}
