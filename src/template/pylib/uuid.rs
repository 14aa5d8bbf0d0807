//! Python's `uuid` module as `macros.uuid`: `UUID`, `uuid1`/`uuid3`/`uuid4`/`uuid5`, the namespaces.

use std::sync::Arc;

use minijinja::value::{DynObject, Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, State};

use crate::template::pylib::unknown_method;
use crate::template::pyvalue::PyObject;
use crate::template::pyvalue::{invalid, type_name};

#[derive(Debug)]
pub(crate) struct UuidModule;

/// A `uuid.UUID`.
#[derive(Debug, Clone)]
pub(crate) struct UuidObj(pub uuid::Uuid);

fn uuid_arg(v: &Value) -> Result<uuid::Uuid, Error> {
    v.downcast_object_ref::<UuidObj>()
        .map(|u| u.0)
        .ok_or_else(|| {
            invalid(format!(
                "'{}' object has no attribute 'bytes'",
                type_name(v)
            ))
        })
}

/// Python's `UUID(hex)`: braces, `urn:uuid:` and hyphens are ignored; 32 hex
/// digits must remain.
fn parse_uuid(text: &str) -> Result<uuid::Uuid, Error> {
    let s = text.replace("urn:", "").replace("uuid:", "");
    let s = s.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    if s.len() != 32 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid("badly formed hexadecimal UUID string"));
    }
    u128::from_str_radix(&s, 16)
        .map(uuid::Uuid::from_u128)
        .map_err(|_| invalid("badly formed hexadecimal UUID string"))
}

impl Object for UuidModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let ns = match key.as_str()? {
            "NAMESPACE_DNS" => uuid::Uuid::NAMESPACE_DNS,
            "NAMESPACE_URL" => uuid::Uuid::NAMESPACE_URL,
            "NAMESPACE_OID" => uuid::Uuid::NAMESPACE_OID,
            "NAMESPACE_X500" => uuid::Uuid::NAMESPACE_X500,
            _ => return None,
        };
        Some(Value::from_object(UuidObj(ns)))
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let u = match method {
            "UUID" => {
                let (hex, kwargs): (Option<&str>, Kwargs) = from_args(args)?;
                let hex = match hex {
                    Some(h) => h.to_string(),
                    None => kwargs
                        .get::<Option<String>>("hex")?
                        .ok_or_else(|| invalid("one of the hex, bytes, bytes_le, fields, or int arguments must be given"))?,
                };
                kwargs.assert_all_used()?;
                parse_uuid(&hex)?
            }
            "uuid4" => {
                let () = from_args(args)?;
                uuid::Uuid::new_v4()
            }
            "uuid5" | "uuid3" => {
                let (ns, name): (Value, Value) = from_args(args)?;
                let ns = uuid_arg(&ns)?;
                let bytes = match name.as_str() {
                    Some(s) => s.as_bytes().to_vec(),
                    None => name
                        .as_bytes()
                        .map(<[u8]>::to_vec)
                        .ok_or_else(|| invalid("name must be a str or bytes"))?,
                };
                if method == "uuid5" {
                    uuid::Uuid::new_v5(&ns, &bytes)
                } else {
                    uuid::Uuid::new_v3(&ns, &bytes)
                }
            }
            other => return Err(unknown_method("uuid", other)),
        };
        Ok(Value::from_object(UuidObj(u)))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'uuid'>")
    }
}

impl PyObject for UuidObj {
    fn type_name(&self) -> &'static str {
        "UUID"
    }
}

impl Object for UuidObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let u = self.0;
        Some(match key.as_str()? {
            "hex" => u.simple().to_string().into(),
            "int" => Value::from(u.as_u128()),
            "urn" => format!("urn:uuid:{}", u.hyphenated()).into(),
            "version" => {
                // Python reports a version only for RFC 4122 variants.
                if u.get_variant() == uuid::Variant::RFC4122 {
                    Value::from(u.get_version_num())
                } else {
                    Value::from(())
                }
            }
            "bytes" => Value::from_bytes(u.as_bytes().to_vec()),
            _ => return None,
        })
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<std::cmp::Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<Self>()?.0))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_parsing() {
        let u = parse_uuid("12345678123456781234567812345678").unwrap();
        assert_eq!(
            u.hyphenated().to_string(),
            "12345678-1234-5678-1234-567812345678"
        );
        assert_eq!(
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"example.com").to_string(),
            "cfbff0d1-9375-5685-968c-48ce8b15ae17"
        );
        assert!(parse_uuid("xyz").is_err());
    }
}
