//! Texts in Dify's languages: Dify's `I18nObject`.

use serde::{Deserialize, Serialize};

use crate::bindings::exports::dify::plugin::tool_provider as wit;

/// A text in Dify's languages (Dify's `I18nObject`). English is required; Dify shows it
/// wherever a translation is missing. `"Red".into()` makes an English-only text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct I18nText {
    /// English (`en_US`).
    #[serde(rename = "en_US")]
    pub en_us: String,
    /// Simplified Chinese (`zh_Hans`).
    #[serde(rename = "zh_Hans", default, skip_serializing_if = "Option::is_none")]
    pub zh_hans: Option<String>,
    /// Japanese (`ja_JP`).
    #[serde(rename = "ja_JP", default, skip_serializing_if = "Option::is_none")]
    pub ja_jp: Option<String>,
    /// Brazilian Portuguese (`pt_BR`).
    #[serde(rename = "pt_BR", default, skip_serializing_if = "Option::is_none")]
    pub pt_br: Option<String>,
}

impl I18nText {
    /// An English-only text.
    pub fn new(en_us: impl Into<String>) -> Self {
        Self {
            en_us: en_us.into(),
            ..Self::default()
        }
    }

    /// Adds the Simplified Chinese text.
    #[must_use]
    pub fn zh_hans(mut self, text: impl Into<String>) -> Self {
        self.zh_hans = Some(text.into());
        self
    }

    /// Adds the Japanese text.
    #[must_use]
    pub fn ja_jp(mut self, text: impl Into<String>) -> Self {
        self.ja_jp = Some(text.into());
        self
    }

    /// Adds the Brazilian Portuguese text.
    #[must_use]
    pub fn pt_br(mut self, text: impl Into<String>) -> Self {
        self.pt_br = Some(text.into());
        self
    }
}

impl From<&str> for I18nText {
    fn from(en_us: &str) -> Self {
        Self::new(en_us)
    }
}

impl From<String> for I18nText {
    fn from(en_us: String) -> Self {
        Self::new(en_us)
    }
}

impl From<I18nText> for wit::I18nText {
    fn from(text: I18nText) -> Self {
        Self {
            en_us: text.en_us,
            zh_hans: text.zh_hans,
            ja_jp: text.ja_jp,
            pt_br: text.pt_br,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_difys_language_keys_and_leaves_missing_ones_out() {
        let text = I18nText::from("Red").zh_hans("红色");
        assert_eq!(
            serde_json::to_value(&text).expect("serializes"),
            serde_json::json!({ "en_US": "Red", "zh_Hans": "红色" })
        );
    }
}
