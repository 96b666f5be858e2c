//! What is wrong with a plugin's declarations, each problem pinned to a file and a field.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a plugin's declarations: where it is, which rule it breaks, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file at fault, relative to the plugin directory (`manifest.yaml`, `tools/echo.yaml`).
    pub file: String,
    /// The field inside the file as a path (`parameters[1].human_description.en_US`); empty when
    /// the file as a whole is at fault (unreadable, not YAML).
    pub field: String,
    /// The rule in words, and how to satisfy it.
    pub rule: String,
}

impl Problem {
    pub(crate) fn new(file: &str, field: &FieldPath, rule: impl Into<String>) -> Problem {
        Problem {
            file: file.to_owned(),
            field: field.as_str().to_owned(),
            rule: rule.into(),
        }
    }

    /// Whether `self` sits at or below `other`'s field in the same file, so that it is only an
    /// echo of `other` (a field that could not be read is also reported as missing).
    pub(crate) fn is_under(&self, other: &Problem) -> bool {
        if self.file != other.file {
            return false;
        }
        if other.field.is_empty() {
            return true;
        }
        match self.field.strip_prefix(other.field.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('.') || rest.starts_with('['),
            None => false,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.rule)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.rule)
        }
    }
}

/// A plugin directory whose declarations cannot be served: every problem found, not only the
/// first, so that an author fixes them all in one go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.dir, .problems))]
pub struct DeclarationError {
    dir: PathBuf,
    problems: Vec<Problem>,
}

impl DeclarationError {
    pub(crate) fn new(dir: PathBuf, problems: Vec<Problem>) -> DeclarationError {
        DeclarationError { dir, problems }
    }

    /// The plugin directory that was read.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Every problem found, in the order of the files and fields.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

fn render(dir: &std::path::Path, problems: &[Problem]) -> String {
    let count = match problems.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    };
    let mut text = format!(
        "the plugin in {} cannot be served: {count} in its declarations",
        dir.display()
    );
    for problem in problems {
        text.push_str("\n  ");
        text.push_str(&problem.to_string());
    }
    text
}

/// Where a value sits inside a YAML document, written the way an author looks it up:
/// `identity.label.en_US`, `parameters[2].options[0].value`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    /// The document itself.
    pub(crate) fn root() -> FieldPath {
        FieldPath(String::new())
    }

    /// The value under `key` of the map at `self`.
    pub(crate) fn key(&self, key: &str) -> FieldPath {
        if self.0.is_empty() {
            FieldPath(key.to_owned())
        } else {
            FieldPath(format!("{}.{key}", self.0))
        }
    }

    /// The `index`th element of the list at `self`.
    pub(crate) fn index(&self, index: usize) -> FieldPath {
        FieldPath(format!("{}[{index}]", self.0))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_every_problem_on_its_own_line_with_file_and_field() {
        let at = FieldPath::root().key("parameters").index(1).key("form");
        let error = DeclarationError::new(
            PathBuf::from("/p"),
            vec![
                Problem::new("tools/echo.yaml", &at, "must be one of schema, form, llm"),
                Problem::new("manifest.yaml", &FieldPath::root(), "is not valid YAML"),
            ],
        );
        let text = error.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("/p") && lines[0].contains("2 problems"));
        assert_eq!(
            lines[1].trim(),
            "tools/echo.yaml: parameters[1].form: must be one of schema, form, llm"
        );
        assert_eq!(lines[2].trim(), "manifest.yaml: is not valid YAML");
    }

    #[test]
    fn a_problem_under_another_field_of_the_same_file_is_its_echo() {
        let outer = Problem::new("a.yaml", &FieldPath::root().key("label"), "must be a map");
        let inner = Problem::new(
            "a.yaml",
            &FieldPath::root().key("label").key("en_US"),
            "is required",
        );
        let sibling = Problem::new("a.yaml", &FieldPath::root().key("labels"), "x");
        let elsewhere = Problem::new("b.yaml", &FieldPath::root().key("label"), "x");
        assert!(inner.is_under(&outer));
        assert!(!sibling.is_under(&outer));
        assert!(!elsewhere.is_under(&outer));
    }
}
