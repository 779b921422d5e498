//! OTLP attribute values (`KeyValue`, `AnyValue`) and span events, read into JSON so the local
//! X-Ray can show them like a segment's annotations and metadata.

use serde_json::{Map, Number, Value as Json};

use super::otlp::{Fields, OtlpEvent, Value, hex};

/// How deep arrays and key-value lists may nest; deeper values are replaced by a note, so a
/// hostile datagram cannot exhaust the receive thread's stack.
const MAX_DEPTH: usize = 8;

/// `KeyValue { key = 1, value = 2 }`.
pub(super) fn key_value(kv: &[u8]) -> Result<(String, Json), String> {
    key_value_at(kv, 0)
}

fn key_value_at(kv: &[u8], depth: usize) -> Result<(String, Json), String> {
    let (mut key, mut value) = (None, Json::Null);
    for field in Fields::new(kv) {
        match field.map_err(|e| format!("attribute: {e}"))? {
            (1, Value::Bytes(k)) => key = Some(String::from_utf8_lossy(k).into_owned()),
            (2, Value::Bytes(v)) => value = any_value(v, depth)?,
            _ => {}
        }
    }
    Ok((key.ok_or("an attribute with no key")?, value))
}

/// `AnyValue`: string 1, bool 2, int 3, double 4, array 5, key-value list 6, bytes 7.
fn any_value(v: &[u8], depth: usize) -> Result<Json, String> {
    if depth >= MAX_DEPTH {
        return Ok(Json::String(format!("(nested deeper than {MAX_DEPTH})")));
    }
    let mut out = Json::Null;
    for field in Fields::new(v) {
        out = match field.map_err(|e| format!("attribute value: {e}"))? {
            (1, Value::Bytes(s)) => Json::String(String::from_utf8_lossy(s).into_owned()),
            (2, Value::Varint(b)) => Json::Bool(b != 0),
            // int64 on the wire is the two's complement in a varint.
            #[allow(clippy::cast_possible_wrap)]
            (3, Value::Varint(i)) => Json::Number((i as i64).into()),
            (4, Value::Fixed64(bits)) => {
                Number::from_f64(f64::from_bits(bits)).map_or(Json::Null, Json::Number)
            }
            (5, Value::Bytes(array)) => {
                let mut items = Vec::new();
                for item in Fields::new(array) {
                    if let (1, Value::Bytes(item)) = item.map_err(|e| format!("array: {e}"))? {
                        items.push(any_value(item, depth + 1)?);
                    }
                }
                Json::Array(items)
            }
            (6, Value::Bytes(list)) => {
                let mut map = Map::new();
                for kv in Fields::new(list) {
                    if let (1, Value::Bytes(kv)) = kv.map_err(|e| format!("kvlist: {e}"))? {
                        let (k, v) = key_value_at(kv, depth + 1)?;
                        map.insert(k, v);
                    }
                }
                Json::Object(map)
            }
            (7, Value::Bytes(b)) => Json::String(hex(b)),
            _ => continue,
        };
    }
    Ok(out)
}

/// `Span.Event { time_unix_nano = 1, name = 2, attributes = 3 }`.
pub(super) fn otlp_event(event: &[u8]) -> Result<OtlpEvent, String> {
    let mut out = OtlpEvent {
        name: String::new(),
        time_unix_nano: 0,
        attributes: Vec::new(),
    };
    for field in Fields::new(event) {
        match field.map_err(|e| format!("event: {e}"))? {
            (1, Value::Fixed64(t)) => out.time_unix_nano = t,
            (2, Value::Bytes(n)) => out.name = String::from_utf8_lossy(n).into_owned(),
            (3, Value::Bytes(kv)) => out.attributes.push(key_value(kv)?),
            _ => {}
        }
    }
    Ok(out)
}
