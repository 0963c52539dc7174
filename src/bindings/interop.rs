// Conversions between JS values and the core's types, in one place: argument checks that
// refuse rather than coerce ("3" is not 3), and core errors turned into JS `Error`s that carry
// the stable `code`.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{Error, ErrorKind};

pub type JsResult<T> = Result<T, JsValue>;

/// A core error as a JS `Error` with `name = "BrookError"` and `code`; the JS wrapper turns it
/// into a `BrookError` instance.
pub fn to_js(error: Error) -> JsValue {
    let js = js_sys::Error::new(error.message());
    js.set_name("BrookError");
    let _ = Reflect::set(
        &js,
        &JsValue::from_str("code"),
        &JsValue::from_str(error.code()),
    );
    js.into()
}

pub fn js_error(kind: ErrorKind, message: impl Into<String>) -> JsValue {
    to_js(Error::new(kind, message))
}

/// What a JS value is, for messages: `"3" (a string)`.
pub fn describe(value: &JsValue) -> String {
    if value.is_undefined() {
        return "undefined".into();
    }
    if value.is_null() {
        return "null".into();
    }
    if let Some(text) = value.as_string() {
        let shown: String = text.chars().take(40).collect();
        return format!("{shown:?} (a string)");
    }
    if let Some(number) = value.as_f64() {
        return format!("{number}");
    }
    if let Some(flag) = value.as_bool() {
        return format!("{flag} (a boolean)");
    }
    if Array::is_array(value) {
        return "an array".into();
    }
    format!(
        "a value of type {}",
        value.js_typeof().as_string().unwrap_or_default()
    )
}

/// A whole number in `min..=max`, or an error of `kind` naming `name`.
pub fn integer(value: &JsValue, name: &str, min: f64, max: f64, kind: ErrorKind) -> JsResult<f64> {
    match value.as_f64() {
        Some(number) if number.fract() == 0.0 && number >= min && number <= max => Ok(number),
        _ => Err(js_error(
            kind,
            format!(
                "{name} must be a whole number from {min} to {max}, got {}",
                describe(value)
            ),
        )),
    }
}

pub fn string(value: &JsValue, name: &str) -> JsResult<String> {
    value.as_string().ok_or_else(|| {
        js_error(
            ErrorKind::InvalidArgument,
            format!("{name} must be a string, got {}", describe(value)),
        )
    })
}

pub fn boolean(value: &JsValue, name: &str, default: bool) -> JsResult<bool> {
    if value.is_undefined() {
        return Ok(default);
    }
    value.as_bool().ok_or_else(|| {
        js_error(
            ErrorKind::InvalidArgument,
            format!("{name} must be true or false, got {}", describe(value)),
        )
    })
}

/// `value` as an options object (undefined = empty), refusing keys outside `allowed`, so that
/// a typo like `retentionMS` is an error instead of a silently ignored setting.
pub fn options(value: &JsValue, what: &str, allowed: &[&str]) -> JsResult<Object> {
    if value.is_undefined() {
        return Ok(Object::new());
    }
    if !value.is_object() || Array::is_array(value) {
        return Err(js_error(
            ErrorKind::InvalidArgument,
            format!("{what} must be an object, got {}", describe(value)),
        ));
    }
    let object: Object = value.clone().unchecked_into();
    for key in Object::keys(&object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            return Err(js_error(
                ErrorKind::InvalidArgument,
                format!(
                    "{what} has an unknown option {key:?}; known options: {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(object)
}

pub fn field(object: &Object, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// A list of strings (a non-empty array of them), or a single string.
pub fn strings(value: &JsValue, name: &str) -> JsResult<Vec<String>> {
    if let Some(single) = value.as_string() {
        return Ok(vec![single]);
    }
    if !Array::is_array(value) {
        return Err(js_error(
            ErrorKind::InvalidArgument,
            format!(
                "{name} must be an array of strings, got {}",
                describe(value)
            ),
        ));
    }
    let array: &Array = value.unchecked_ref();
    if array.length() > 10_000 {
        return Err(js_error(
            ErrorKind::InvalidArgument,
            format!("{name} has too many entries"),
        ));
    }
    array.iter().map(|item| string(&item, name)).collect()
}

pub fn array(value: &JsValue, name: &str, length_max: u32) -> JsResult<Array> {
    if !Array::is_array(value) {
        return Err(js_error(
            ErrorKind::InvalidArgument,
            format!("{name} must be an array, got {}", describe(value)),
        ));
    }
    let array: Array = value.clone().unchecked_into();
    if array.length() > length_max {
        return Err(js_error(
            ErrorKind::InvalidArgument,
            format!(
                "{name} has {} entries; at most {length_max} are allowed",
                array.length()
            ),
        ));
    }
    Ok(array)
}

/// Serializes a result for JS (plain objects and arrays).
pub fn to_value<T: serde::Serialize>(value: &T) -> JsResult<JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(false);
    value.serialize(&serializer).map_err(|e| {
        js_error(
            ErrorKind::InvalidArgument,
            format!("cannot convert a result: {e}"),
        )
    })
}
