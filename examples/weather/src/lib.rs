//! Weather: a tool that calls a web API. `current_weather` asks Open-Meteo for the temperature
//! and wind at a latitude and longitude and emits them as a text message and a JSON message.
//!
//! The request goes through the host's `wasi:http`, which denies every origin the plugin's
//! `dify-wasm.yaml` does not list (here `https://api.open-meteo.com`). The optional provider
//! credential `api_base` points the plugin at a self-hosted Open-Meteo; its origin must be
//! listed too (or granted with `dify-wasm run --allow-http ORIGIN`).

use dify_plugin::serde_json::{Value, json};
use dify_plugin::{Error, Output, Plugin, http, param};

/// Where the API lives unless the `api_base` credential says otherwise.
const OPEN_METEO: &str = "https://api.open-meteo.com";

struct Weather;

impl Plugin for Weather {
    fn invoke(
        tool: &str,
        parameters: Value,
        credentials: Value,
        output: &Output,
    ) -> Result<(), Error> {
        match tool {
            "current_weather" => current_weather(&parameters, &credentials, output),
            other => Err(Error::unknown_tool(other)),
        }
    }
}

dify_plugin::export_plugin!(Weather);

fn current_weather(parameters: &Value, credentials: &Value, output: &Output) -> Result<(), Error> {
    let latitude: f64 = param(parameters, "latitude")?;
    let longitude: f64 = param(parameters, "longitude")?;
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return Err(Error::invalid_parameters(format!(
            "latitude must be within -90..90 and longitude within -180..180 (got {latitude}, {longitude})"
        )));
    }
    let base = credentials
        .get("api_base")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(OPEN_METEO)
        .trim_end_matches('/');
    let url = format!(
        "{base}/v1/forecast?latitude={latitude}&longitude={longitude}&current=temperature_2m,wind_speed_10m"
    );
    let answer: Value = http::get(&url)?.error_for_status()?.json()?;

    let current = &answer["current"];
    let units = &answer["current_units"];
    let (Some(temperature), Some(wind)) = (
        current["temperature_2m"].as_f64(),
        current["wind_speed_10m"].as_f64(),
    ) else {
        return Err(Error::tool_failed(format!(
            "the weather service answered without current.temperature_2m and current.wind_speed_10m: {}",
            answer.to_string().chars().take(200).collect::<String>()
        )));
    };
    let temperature_unit = units["temperature_2m"].as_str().unwrap_or("°C");
    let wind_unit = units["wind_speed_10m"].as_str().unwrap_or("km/h");
    let time = current["time"].as_str().unwrap_or_default();

    output.text(format!(
        "{temperature} {temperature_unit}, wind {wind} {wind_unit} at {latitude}, {longitude} ({time})"
    ))?;
    output.json(json!({
        "latitude": latitude,
        "longitude": longitude,
        "time": time,
        "temperature": temperature,
        "temperature_unit": temperature_unit,
        "wind_speed": wind,
        "wind_speed_unit": wind_unit,
    }))
}
