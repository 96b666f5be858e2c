//! Reading a tool's parameters with typed errors.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;

/// Reads the required parameter `name` from the parameters object as a `T`. A missing or
/// `null` parameter, or one of the wrong shape, is an [`Error::InvalidParameters`] naming it,
/// so `?` gives the caller a useful answer.
pub fn param<T: DeserializeOwned>(parameters: &Value, name: &str) -> Result<T, Error> {
    optional_param(parameters, name)?
        .ok_or_else(|| Error::invalid_parameters(format!("missing parameter `{name}`")))
}

/// Reads the optional parameter `name`: `None` when it is absent or `null`, an
/// [`Error::InvalidParameters`] when it has the wrong shape.
pub fn optional_param<T: DeserializeOwned>(
    parameters: &Value,
    name: &str,
) -> Result<Option<T>, Error> {
    match parameters.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value)
            .map(Some)
            .map_err(|e| Error::invalid_parameters(format!("parameter `{name}` is invalid: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_typed_parameters_and_names_the_bad_one() {
        let p = json!({"n": 3, "s": "x", "z": null});
        assert_eq!(param::<u64>(&p, "n"), Ok(3));
        assert_eq!(param::<String>(&p, "s"), Ok("x".to_owned()));
        assert_eq!(optional_param::<u64>(&p, "z"), Ok(None));
        assert_eq!(optional_param::<u64>(&p, "absent"), Ok(None));
        let err = param::<u64>(&p, "s").expect_err("wrong type");
        assert!(err.message().contains("`s`"));
        let err = param::<u64>(&p, "absent").expect_err("missing");
        assert_eq!(err, Error::invalid_parameters("missing parameter `absent`"));
    }
}
