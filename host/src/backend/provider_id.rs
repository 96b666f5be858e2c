//! Dify's builtin provider ids: `org/plugin/provider`, with a bare `name` meaning
//! `langgenius/name/name`.

use crate::error::ToolError;

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The full `org/plugin/provider` form of a builtin provider id, as Dify resolves it.
pub fn normalize(id: &str) -> Result<String, ToolError> {
    let parts: Vec<&str> = id.split('/').collect();
    match parts.as_slice() {
        [name] if valid_segment(name) => Ok(format!("langgenius/{name}/{name}")),
        [org, plugin, provider] if [org, plugin, provider].iter().all(|s| valid_segment(s)) => {
            Ok(id.to_owned())
        }
        _ => Err(ToolError::InvalidParameters(format!(
            "builtin provider `{id}` is not of the form org/plugin/provider (each part made of a-z, 0-9, _ and -)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_belong_to_langgenius() {
        assert_eq!(
            normalize("google").ok().as_deref(),
            Some("langgenius/google/google")
        );
        assert_eq!(normalize("a/b-c/d_1").ok().as_deref(), Some("a/b-c/d_1"));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in ["", "A/b/c", "a/b", "a/b/c/d", "a//c", "a/b/c d"] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }
}
