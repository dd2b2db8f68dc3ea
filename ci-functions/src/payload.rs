//! The JSON the Jenkins plugin and Zuul exchange (ci-plugin.md §2.2, §3, §4): build parameters
//! in, start and completion reports out, and the arguments of `stop:` and `set_description:`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Build parameters: flat string pairs; a JSON `null` is a parameter without a value.
pub type BuildParams = BTreeMap<String, Option<String>>;

/// Why a workload or argument was refused (sent back as WORK_EXCEPTION with this text).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Empty workload: the plugin crashed on it; send at least `{}`.
    #[error("empty workload: send a JSON object of parameters, at least {{}}")]
    Empty,
    /// Not UTF-8 JSON.
    #[error("workload is not valid JSON: {0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("workload must be a JSON object of parameters")]
    NotAnObject,
    /// A nested object or array: parameters must stay flat key=value pairs.
    #[error("parameter {0:?} is an object or array: parameters must be flat key=value pairs")]
    Nested(String),
    /// A key given twice.
    #[error("parameter {0:?} is given twice")]
    Duplicate(String),
    /// `stop:` / `set_description:` without a usable `name` and `number`.
    #[error("Build id is invalid or not specified")]
    BadBuildId,
}

/// Rejects duplicate keys, which serde_json's map would silently merge.
fn check_duplicates(text: &str) -> Result<(), PayloadError> {
    struct Keys<'a>(&'a mut Option<String>);
    impl<'de> serde::de::DeserializeSeed<'de> for Keys<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> serde::de::Visitor<'de> for Keys<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                if !seen.insert(key.clone()) && self.0.is_none() {
                    *self.0 = Some(key);
                }
            }
            Ok(())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    let mut dup = None;
    let mut de = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(Keys(&mut dup), &mut de)
        .map_err(|e| PayloadError::Json(e.to_string()))?;
    match dup {
        Some(key) => Err(PayloadError::Duplicate(key)),
        None => Ok(()),
    }
}

/// Parses a build workload: a JSON object whose values are strings, numbers or booleans
/// (numbers and booleans become their text) or null.
pub fn parse_params(data: &[u8]) -> Result<BuildParams, PayloadError> {
    let text = std::str::from_utf8(data).map_err(|e| PayloadError::Json(e.to_string()))?;
    if text.trim().is_empty() {
        return Err(PayloadError::Empty);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| PayloadError::Json(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(PayloadError::NotAnObject);
    };
    check_duplicates(text)?;
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Null => None,
                Value::String(s) => Some(s),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                Value::Array(_) | Value::Object(_) => return Err(PayloadError::Nested(k)),
            };
            Ok((k, v))
        })
        .collect()
}

/// Whether the build asks its node to go offline when it ends: `OFFLINE_NODE_WHEN_COMPLETE`
/// is exactly `1`, `true`, `True` or `TRUE`.
pub fn offline_when_complete(params: &BuildParams) -> bool {
    matches!(
        params
            .get("OFFLINE_NODE_WHEN_COMPLETE")
            .and_then(|v| v.as_deref()),
        Some("1" | "true" | "True" | "TRUE")
    )
}

/// A build's final result, as Jenkins spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuildResult {
    /// `SUCCESS`
    Success,
    /// `UNSTABLE`
    Unstable,
    /// `FAILURE`
    Failure,
    /// `NOT_BUILT`
    NotBuilt,
    /// `ABORTED`
    Aborted,
}

impl BuildResult {
    /// The text in the payload.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Unstable => "UNSTABLE",
            Self::Failure => "FAILURE",
            Self::NotBuilt => "NOT_BUILT",
            Self::Aborted => "ABORTED",
        }
    }
}

/// What the first WORK_DATA and the WORK_COMPLETE of a build carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildReport {
    /// The project's short name.
    pub name: String,
    /// The build number.
    pub number: u64,
    /// The master's name (as in `stop:MANAGER`).
    pub manager: String,
    /// The executor worker's client id, `NODE_exec-I`.
    pub worker: String,
    /// The build's URL, when the host has one.
    pub url: Option<String>,
    /// The node's name.
    pub node_name: String,
    /// The node's label atoms, its own name included.
    pub node_labels: Vec<String>,
}

impl BuildReport {
    fn object(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), Value::from(self.name.clone()));
        m.insert("number".into(), Value::from(self.number));
        m.insert("manager".into(), Value::from(self.manager.clone()));
        m.insert("worker".into(), Value::from(self.worker.clone()));
        if let Some(url) = &self.url {
            m.insert("url".into(), Value::from(url.clone()));
        }
        m.insert("node_name".into(), Value::from(self.node_name.clone()));
        m.insert("node_labels".into(), Value::from(self.node_labels.clone()));
        m
    }

    /// The WORK_DATA sent when the build starts: no `result`.
    pub fn start_payload(&self) -> Vec<u8> {
        Value::Object(self.object()).to_string().into_bytes()
    }

    /// The WORK_COMPLETE payload: the same object plus `result`, whatever the result.
    pub fn complete_payload(&self, result: BuildResult) -> Vec<u8> {
        let mut m = self.object();
        m.insert("result".into(), Value::from(result.as_str()));
        Value::Object(m).to_string().into_bytes()
    }
}

/// The argument of `stop:` and `set_description:`: a build by project name and number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildRef {
    /// The project.
    pub name: String,
    /// The build number (sent as a JSON number or a string).
    pub number: u64,
    /// `set_description:` only: the new description, `None` to clear it.
    pub html_description: Option<String>,
}

/// Parses a `stop:` or `set_description:` argument.
pub fn parse_build_ref(data: &[u8]) -> Result<BuildRef, PayloadError> {
    let params = parse_params(data)?;
    let get = |k: &str| params.get(k).cloned().flatten().filter(|v| !v.is_empty());
    let name = get("name").ok_or(PayloadError::BadBuildId)?;
    let number = get("number")
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or(PayloadError::BadBuildId)?;
    Ok(BuildRef {
        name,
        number,
        html_description: params.get("html_description").cloned().flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_flat_strings() {
        let p = parse_params(br#"{"ZUUL_UUID":"abc","N":3,"B":true,"X":null,"T":"a\nb"}"#).unwrap();
        assert_eq!(p["ZUUL_UUID"].as_deref(), Some("abc"));
        assert_eq!(p["N"].as_deref(), Some("3"));
        assert_eq!(p["B"].as_deref(), Some("true"));
        assert_eq!(p["X"], None);
        assert_eq!(p["T"].as_deref(), Some("a\nb"));
        assert_eq!(parse_params(b"{}").unwrap(), BuildParams::new());
    }

    #[test]
    fn bad_workloads_get_clear_errors() {
        assert_eq!(parse_params(b""), Err(PayloadError::Empty));
        assert_eq!(parse_params(b"  "), Err(PayloadError::Empty));
        assert!(matches!(parse_params(b"{"), Err(PayloadError::Json(_))));
        assert!(matches!(parse_params(b"\xff"), Err(PayloadError::Json(_))));
        assert_eq!(parse_params(b"[1]"), Err(PayloadError::NotAnObject));
        assert_eq!(
            parse_params(br#"{"a":{"b":1}}"#),
            Err(PayloadError::Nested("a".into()))
        );
        assert_eq!(
            parse_params(br#"{"a":[1]}"#),
            Err(PayloadError::Nested("a".into()))
        );
        assert_eq!(
            parse_params(br#"{"a":"1","a":"2"}"#),
            Err(PayloadError::Duplicate("a".into()))
        );
        let e = parse_params(br#"{"a":[1]}"#).unwrap_err().to_string();
        assert!(e.contains("flat"), "{e}");
    }

    #[test]
    fn offline_flag_is_exact() {
        for (v, want) in [
            ("1", true),
            ("true", true),
            ("True", true),
            ("TRUE", true),
            ("yes", false),
            ("tRuE", false),
            ("0", false),
        ] {
            let p = parse_params(format!(r#"{{"OFFLINE_NODE_WHEN_COMPLETE":"{v}"}}"#).as_bytes())
                .unwrap();
            assert_eq!(offline_when_complete(&p), want, "{v}");
        }
        assert!(!offline_when_complete(&BuildParams::new()));
        let p = parse_params(br#"{"OFFLINE_NODE_WHEN_COMPLETE":1}"#).unwrap();
        assert!(offline_when_complete(&p), "a JSON number 1 reads as \"1\"");
    }

    #[test]
    fn reports_start_without_result_and_complete_with_it() {
        let r = BuildReport {
            name: "gate-nova-python27".into(),
            number: 4711,
            manager: "jenkins01".into(),
            worker: "bare-trusty-123_exec-0".into(),
            url: None,
            node_name: "bare-trusty-123".into(),
            node_labels: vec!["bare-trusty".into(), "bare-trusty-123".into()],
        };
        let start: Value = serde_json::from_slice(&r.start_payload()).unwrap();
        assert_eq!(start["number"], Value::from(4711));
        assert!(start.get("result").is_none() && start.get("url").is_none());
        let done: Value =
            serde_json::from_slice(&r.complete_payload(BuildResult::Aborted)).unwrap();
        assert_eq!(done["result"], "ABORTED");
        assert_eq!(done["node_labels"][1], "bare-trusty-123");
    }

    #[test]
    fn build_refs_accept_numbers_or_strings() {
        let r = parse_build_ref(br#"{"name":"py27","number":42}"#).unwrap();
        assert_eq!(
            (r.name.as_str(), r.number, r.html_description),
            ("py27", 42, None)
        );
        let r = parse_build_ref(br#"{"name":"py27","number":"42","html_description":"<b>x</b>"}"#)
            .unwrap();
        assert_eq!(
            (r.number, r.html_description.as_deref()),
            (42, Some("<b>x</b>"))
        );
        for bad in [
            &br#"{"name":"","number":1}"#[..],
            br#"{"name":"a"}"#,
            br#"{"name":"a","number":"x"}"#,
        ] {
            assert_eq!(parse_build_ref(bad), Err(PayloadError::BadBuildId));
        }
        assert_eq!(
            PayloadError::BadBuildId.to_string(),
            "Build id is invalid or not specified"
        );
    }
}
