//! Declaring parameters at run time: Dify's `ToolParameter` and `ParameterOption`.

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::bindings::exports::dify::plugin::tool_provider as wit;
use crate::i18n::I18nText;
use crate::message::JsonObject;

/// The type of a tool parameter, as a tool yaml's `type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParameterType {
    /// `string`
    String,
    /// `number`
    Number,
    /// `boolean`
    Boolean,
    /// `select`: one of the parameter's `options`.
    Select,
    /// `secret-input`
    SecretInput,
    /// `file`
    File,
    /// `files`
    Files,
    /// `app-selector`
    AppSelector,
    /// `model-selector`
    ModelSelector,
    /// `any`
    Any,
    /// `dynamic-select`: options come from [`crate::Plugin::fetch_parameter_options`].
    DynamicSelect,
    /// `array`
    Array,
    /// `object`
    Object,
    /// `checkbox`
    Checkbox,
    /// `date`
    Date,
    /// `date-range`
    DateRange,
}

impl ParameterType {
    /// Dify's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Select => "select",
            Self::SecretInput => "secret-input",
            Self::File => "file",
            Self::Files => "files",
            Self::AppSelector => "app-selector",
            Self::ModelSelector => "model-selector",
            Self::Any => "any",
            Self::DynamicSelect => "dynamic-select",
            Self::Array => "array",
            Self::Object => "object",
            Self::Checkbox => "checkbox",
            Self::Date => "date",
            Self::DateRange => "date-range",
        }
    }
}

/// Who fills a tool parameter in, as a tool yaml's `form` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParameterForm {
    /// `schema`: set in the tool's schema.
    Schema,
    /// `form`: set by the user in Dify's UI.
    Form,
    /// `llm`: filled in by the model.
    Llm,
}

impl ParameterForm {
    /// Dify's name for the form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schema => "schema",
            Self::Form => "form",
            Self::Llm => "llm",
        }
    }
}

/// One choice of a select or dynamic select (Dify's `ParameterOption`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterOption {
    /// The value the tool receives.
    pub value: String,
    /// What the user sees.
    pub label: I18nText,
    /// An icon URL or data URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

impl ParameterOption {
    /// An option without icon; `label` may be a plain `&str` (English only).
    pub fn new(value: impl Into<String>, label: impl Into<I18nText>) -> Self {
        Self {
            value: value.into(),
            label: label.into(),
            icon: None,
        }
    }

    /// Sets the icon (a URL or a data URI).
    #[must_use]
    pub fn icon(mut self, icon: impl Into<String>) -> Self {
        self.icon = Some(icon.into());
        self
    }
}

impl From<ParameterOption> for wit::ParameterOption {
    fn from(option: ParameterOption) -> Self {
        Self {
            value: option.value,
            label: option.label.into(),
            icon: option.icon,
        }
    }
}

/// A parameter a tool has beyond its yaml, returned by [`crate::Plugin::runtime_parameters`]
/// (Dify's `ToolParameter`). It serializes to the JSON Dify expects.
///
/// Dify refuses a parameter without an English label and description, so [`ToolParameter::new`]
/// starts both as the name: every value this builder makes is one Dify accepts.
///
/// ```
/// use dify_plugin::{ParameterForm, ParameterOption, ParameterType, ToolParameter};
///
/// let unit = ToolParameter::new("unit", ParameterType::Select, ParameterForm::Form)
///     .label("Unit")
///     .human_description("The unit of the result.")
///     .option(ParameterOption::new("c", "Celsius"))
///     .option(ParameterOption::new("f", "Fahrenheit"))
///     .default_value("c");
/// assert_eq!(unit.name(), "unit");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ToolParameter {
    name: String,
    kind: ParameterType,
    form: ParameterForm,
    label: I18nText,
    human_description: I18nText,
    llm_description: Option<String>,
    required: bool,
    default: Option<Value>,
    min: Option<f64>,
    max: Option<f64>,
    precision: Option<u32>,
    options: Vec<ParameterOption>,
    multiple: bool,
    extra: JsonObject,
}

impl ToolParameter {
    /// An optional parameter whose label and description are its name until set.
    pub fn new(name: impl Into<String>, kind: ParameterType, form: ParameterForm) -> Self {
        let name = name.into();
        Self {
            label: I18nText::new(name.clone()),
            human_description: I18nText::new(name.clone()),
            name,
            kind,
            form,
            llm_description: None,
            required: false,
            default: None,
            min: None,
            max: None,
            precision: None,
            options: Vec::new(),
            multiple: false,
            extra: JsonObject::new(),
        }
    }

    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the user sees as the parameter's name.
    #[must_use]
    pub fn label(mut self, label: impl Into<I18nText>) -> Self {
        self.label = label.into();
        self
    }

    /// What the user reads about the parameter.
    #[must_use]
    pub fn human_description(mut self, description: impl Into<I18nText>) -> Self {
        self.human_description = description.into();
        self
    }

    /// What the model reads about the parameter (for [`ParameterForm::Llm`]).
    #[must_use]
    pub fn llm_description(mut self, description: impl Into<String>) -> Self {
        self.llm_description = Some(description.into());
        self
    }

    /// Whether the parameter must be given.
    #[must_use]
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// The value used when none is given.
    #[must_use]
    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// The smallest value of a number.
    #[must_use]
    pub fn min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }

    /// The largest value of a number.
    #[must_use]
    pub fn max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }

    /// The number of decimals of a number.
    #[must_use]
    pub fn precision(mut self, precision: u32) -> Self {
        self.precision = Some(precision);
        self
    }

    /// Adds a choice of a select.
    #[must_use]
    pub fn option(mut self, option: ParameterOption) -> Self {
        self.options.push(option);
        self
    }

    /// Whether several choices of a select may be picked.
    #[must_use]
    pub fn multiple(mut self, multiple: bool) -> Self {
        self.multiple = multiple;
        self
    }

    /// Sets any other field of Dify's `ToolParameter` (`scope`, `auto_generate`, `template`,
    /// ...), replacing what the other methods set under the same key.
    #[must_use]
    pub fn field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// The parameter as Dify's `ToolParameter` JSON object.
    pub fn to_json(&self) -> Value {
        let mut object = JsonObject::new();
        object.insert("name".into(), Value::from(self.name.as_str()));
        object.insert("type".into(), Value::from(self.kind.as_str()));
        object.insert("form".into(), Value::from(self.form.as_str()));
        object.insert("label".into(), i18n_json(&self.label));
        object.insert(
            "human_description".into(),
            i18n_json(&self.human_description),
        );
        if let Some(description) = &self.llm_description {
            object.insert("llm_description".into(), Value::from(description.as_str()));
        }
        object.insert("required".into(), Value::Bool(self.required));
        if let Some(default) = &self.default {
            object.insert("default".into(), default.clone());
        }
        if let Some(min) = self.min {
            object.insert("min".into(), Value::from(min));
        }
        if let Some(max) = self.max {
            object.insert("max".into(), Value::from(max));
        }
        if let Some(precision) = self.precision {
            object.insert("precision".into(), Value::from(precision));
        }
        if !self.options.is_empty() {
            let options = self.options.iter().map(option_json).collect();
            object.insert("options".into(), Value::Array(options));
        }
        if self.multiple {
            object.insert("multiple".into(), Value::Bool(true));
        }
        for (key, value) in &self.extra {
            object.insert(key.clone(), value.clone());
        }
        Value::Object(object)
    }
}

impl Serialize for ToolParameter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// Both are plain structs of strings and options: serializing them to a `Value` cannot fail,
/// but the fallback keeps that a fact of this code rather than a panic.
fn i18n_json(text: &I18nText) -> Value {
    serde_json::to_value(text).unwrap_or_else(|_| Value::from(text.en_us.as_str()))
}

fn option_json(option: &ParameterOption) -> Value {
    serde_json::to_value(option).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bare_parameter_already_satisfies_dify() {
        let p = ToolParameter::new("query", ParameterType::String, ParameterForm::Llm);
        assert_eq!(
            p.to_json(),
            json!({
                "name": "query",
                "type": "string",
                "form": "llm",
                "label": { "en_US": "query" },
                "human_description": { "en_US": "query" },
                "required": false
            })
        );
    }

    #[test]
    fn every_setter_reaches_the_json() {
        let p = ToolParameter::new("unit", ParameterType::DynamicSelect, ParameterForm::Form)
            .label(I18nText::new("Unit").zh_hans("单位"))
            .human_description("The unit.")
            .llm_description("unit of the result")
            .required(true)
            .default_value("c")
            .min(0.0)
            .max(10.5)
            .precision(2)
            .option(ParameterOption::new("c", "Celsius").icon("https://x/c.svg"))
            .multiple(true)
            .field("scope", "all")
            .field("required", false);
        assert_eq!(
            serde_json::to_value(&p).expect("serializes"),
            json!({
                "name": "unit",
                "type": "dynamic-select",
                "form": "form",
                "label": { "en_US": "Unit", "zh_Hans": "单位" },
                "human_description": { "en_US": "The unit." },
                "llm_description": "unit of the result",
                "required": false,
                "default": "c",
                "min": 0.0,
                "max": 10.5,
                "precision": 2,
                "options": [
                    { "value": "c", "label": { "en_US": "Celsius" }, "icon": "https://x/c.svg" }
                ],
                "multiple": true,
                "scope": "all"
            })
        );
    }
}
