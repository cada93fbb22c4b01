//! Weight files in the safetensors layout, written by hand: an 8-byte
//! little-endian header length, a JSON header naming each tensor's dtype,
//! shape and byte range (`data_offsets`, relative to the end of the
//! header), then the raw little-endian data. Python's `safetensors` opens
//! what we write; we read any F32 file that holds LeNet-5's tensors.

use std::collections::BTreeMap;

use crate::model::{param_count, PARAMS};
use crate::tensor::{numel, Tensor};

/// The model's flat parameters as a safetensors file.
pub fn save(params: &[f32]) -> Vec<u8> {
    assert_eq!(params.len(), param_count(), "LeNet-5 has {} parameters", param_count());
    let mut offset = 0;
    let tensors: Vec<(&str, &[usize], &[f32])> = PARAMS
        .iter()
        .map(|&(name, shape)| {
            let n = numel(shape);
            offset += n;
            (name, shape, &params[offset - n..offset])
        })
        .collect();
    write_safetensors(&tensors, &[("model", "LeNet-5 (Theano tutorial)"), ("dense_layout", "(n_in, n_out)")])
}

/// LeNet-5's flat parameters from a safetensors file, or what is wrong with it.
pub fn load(bytes: &[u8]) -> Result<Vec<f32>, String> {
    let mut tensors = read_safetensors(bytes)?;
    let mut params = Vec::with_capacity(param_count());
    for (name, shape) in PARAMS {
        let t = tensors.remove(name).ok_or_else(|| format!("the weights file has no tensor {name:?}"))?;
        if t.shape != shape {
            return Err(format!("{name} has shape {:?}, LeNet-5 needs {shape:?}", t.shape));
        }
        if let Some(bad) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(format!("{name} holds a non-finite value at index {bad}"));
        }
        params.extend_from_slice(&t.data);
    }
    Ok(params)
}

/// Encodes named F32 tensors, with string metadata.
pub fn write_safetensors(tensors: &[(&str, &[usize], &[f32])], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut header = String::from("{\"__metadata__\":{");
    let fields: Vec<String> = metadata.iter().map(|(k, v)| format!("{}:{}", json_string(k), json_string(v))).collect();
    header += &fields.join(",");
    header += "}";
    let mut offset = 0;
    for (name, shape, data) in tensors {
        assert_eq!(numel(shape), data.len(), "{name}: shape {shape:?} does not hold {} values", data.len());
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let end = offset + 4 * data.len();
        header += &format!(
            ",{}:{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            json_string(name),
            dims.join(",")
        );
        offset = end;
    }
    header += "}";
    // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for (_, _, data) in tensors {
        for v in data.iter() {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Decodes every tensor of a safetensors file; only F32 is accepted.
pub fn read_safetensors(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, String> {
    let not = |why: String| format!("not a valid safetensors file: {why}");
    let len_bytes: [u8; 8] = bytes.get(..8).ok_or_else(|| not(format!("only {} bytes", bytes.len())))?.try_into().unwrap();
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > (bytes.len() - 8) as u64 {
        return Err(not(format!("header length {header_len} exceeds the file's {} bytes", bytes.len())));
    }
    let header = std::str::from_utf8(&bytes[8..8 + header_len as usize]).map_err(|_| not("header is not UTF-8".into()))?;
    let data = &bytes[8 + header_len as usize..];
    let Json::Object(entries) = Json::parse(header).map_err(|e| not(format!("header JSON: {e}")))? else {
        return Err(not("header is not a JSON object".into()));
    };
    let mut tensors = BTreeMap::new();
    for (name, info) in entries {
        if name == "__metadata__" {
            continue;
        }
        let field = |key: &str| match &info {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        };
        let numbers = |key: &str| -> Result<Vec<usize>, String> {
            match field(key) {
                Some(Json::Array(items)) => items
                    .iter()
                    .map(|v| match v {
                        Json::Number(n) if *n >= 0.0 && n.fract() == 0.0 => Ok(*n as usize),
                        _ => Err(format!("{name}: {key} must hold whole numbers")),
                    })
                    .collect(),
                _ => Err(format!("{name}: no {key}")),
            }
        };
        match field("dtype") {
            Some(Json::String(d)) if d == "F32" => {}
            Some(Json::String(d)) => return Err(format!("{name} is {d}, only F32 weights are read")),
            _ => return Err(not(format!("{name} has no dtype"))),
        }
        let shape = numbers("shape").map_err(not)?;
        let offsets = numbers("data_offsets").map_err(not)?;
        let (start, end) = match offsets[..] {
            [s, e] if s <= e && e <= data.len() => (s, e),
            _ => return Err(not(format!("{name}: data_offsets {offsets:?} fall outside the {} data bytes", data.len()))),
        };
        if end - start != 4 * numel(&shape) {
            return Err(not(format!("{name}: {} bytes for shape {shape:?}", end - start)));
        }
        let values = data[start..end].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        tensors.insert(name, Tensor::from_vec(&shape, values));
    }
    Ok(tensors)
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            c if (c as u32) < 0x20 => out += &format!("\\u{:04x}", c as u32),
            c => out.push(c),
        }
    }
    out + "\""
}

/// Just enough JSON to read a safetensors header.
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser { s: text.as_bytes(), i: 0 };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("unexpected text at byte {}", p.i));
        }
        Ok(v)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i).copied() {
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Object(fields));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.eat(b':')?;
                    fields.push((key, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Object(fields));
                        }
                        _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(format!("expected ',' or ']' at byte {}", self.i)),
                    }
                }
            }
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                text.parse().map(Json::Number).map_err(|_| format!("bad value at byte {start}"))
            }
            None => Err("unexpected end of JSON".into()),
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(format!("bad literal at byte {}", self.i))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return Err(format!("expected a string at byte {}", self.i));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match *self.s.get(self.i).ok_or("unterminated string")? {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| "string is not UTF-8".into());
                }
                b'\\' => {
                    let esc = *self.s.get(self.i + 1).ok_or("unterminated string")?;
                    self.i += 2;
                    let c = match esc {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4).ok_or("bad \\u escape")?;
                            self.i += 4;
                            let code = u32::from_str_radix(std::str::from_utf8(hex).unwrap_or("x"), 16);
                            char::from_u32(code.map_err(|_| "bad \\u escape")?).unwrap_or('\u{fffd}')
                        }
                        c => c as char,
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_of_a_header() {
        let v = Json::parse(r#"{"a":{"dtype":"F32","shape":[2, 3],"x":[true,null,-1.5e2]},"b\"q":"\u0041"}"#).unwrap();
        let Json::Object(fields) = v else { panic!("not an object") };
        assert_eq!(fields[1], ("b\"q".to_string(), Json::String("A".into())));
        assert!(Json::parse("{\"a\":1,}").is_err());
        assert!(Json::parse("[1 2]").is_err());
    }
}
