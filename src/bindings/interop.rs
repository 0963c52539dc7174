// Conversions between JS values and the core's types, in one place: argument checks that
// refuse rather than coerce ("3" is not 3), and core errors turned into JS `Error`s that carry
// the stable `code`.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{number_text, Error, ErrorKind, Quoted};

pub type JsResult<T> = Result<T, JsValue>;

// The reads of JS values below are all `catch` imports: a Proxy trap or getter that throws
// must come back as an error. An exception that unwinds through Rust frames instead would
// leave the wasm log mutably borrowed for good ("recursive use of an object detected").
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn is_array_checked(value: &JsValue) -> Result<bool, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn keys_checked(value: &JsValue) -> Result<Array, JsValue>;
}

fn unreadable(what: &str) -> JsValue {
    js_error(
        ErrorKind::InvalidArgument,
        format!("{what} could not be read (a getter or Proxy threw)"),
    )
}

fn is_array(value: &JsValue) -> bool {
    is_array_checked(value).unwrap_or(false)
}

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
        return format!("{shown} (a string)", shown = Quoted(&shown));
    }
    if value.as_f64().is_some() {
        // JS's own rendering: Rust's float formatting would add 14 KiB of wasm for messages.
        return js_sys::Number::from(value.clone())
            .to_string_with_radix(10)
            .map(String::from)
            .unwrap_or_else(|_| "a number".into());
    }
    if let Some(flag) = value.as_bool() {
        return format!("{flag} (a boolean)");
    }
    if is_array(value) {
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
                "{name} must be a whole number from {} to {}, got {}",
                number_text(min),
                number_text(max),
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
    if !value.is_object() || is_array(value) {
        return Err(js_error(
            ErrorKind::InvalidArgument,
            format!("{what} must be an object, got {}", describe(value)),
        ));
    }
    let object: Object = value.clone().unchecked_into();
    let keys = keys_checked(&object).map_err(|_| unreadable(what))?;
    for key in keys.iter() {
        let key = key.as_string().unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            return Err(js_error(
                ErrorKind::InvalidArgument,
                format!(
                    "{what} has an unknown option {key}; known options: {}",
                    allowed.join(", "),
                    key = Quoted(&key)
                ),
            ));
        }
    }
    Ok(object)
}

/// A field of an options object; a getter that throws is an error, not an absent field.
pub fn field(object: &Object, name: &str) -> JsResult<JsValue> {
    Reflect::get(object, &JsValue::from_str(name)).map_err(|_| unreadable(name))
}

/// The elements of an array, each read through a catching get.
pub fn elements(array: &Array, name: &str) -> JsResult<Vec<JsValue>> {
    let length = Reflect::get(array, &JsValue::from_str("length"))
        .map_err(|_| unreadable(name))?
        .as_f64()
        .filter(|l| l.fract() == 0.0 && *l >= 0.0 && *l <= u32::MAX as f64)
        .ok_or_else(|| unreadable(name))? as u32;
    (0..length)
        .map(|index| Reflect::get_u32(array, index).map_err(|_| unreadable(name)))
        .collect()
}

/// A list of strings (a non-empty array of them), or a single string.
pub fn strings(value: &JsValue, name: &str) -> JsResult<Vec<String>> {
    if let Some(single) = value.as_string() {
        return Ok(vec![single]);
    }
    let array = array(value, name, 10_000)?;
    elements(&array, name)?
        .iter()
        .map(|item| string(item, name))
        .collect()
}

pub fn array(value: &JsValue, name: &str, length_max: u32) -> JsResult<Array> {
    if !is_array(value) {
        return Err(js_error(
            ErrorKind::InvalidArgument,
            format!("{name} must be an array, got {}", describe(value)),
        ));
    }
    let array: Array = value.clone().unchecked_into();
    let length = Reflect::get(&array, &JsValue::from_str("length"))
        .map_err(|_| unreadable(name))?
        .as_f64()
        .unwrap_or(f64::INFINITY);
    if length > length_max as f64 {
        return Err(js_error(
            ErrorKind::InvalidArgument,
            format!(
                "{name} has {} entries; at most {length_max} are allowed",
                number_text(length)
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
