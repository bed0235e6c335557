//! A service model as botocore describes it (`service-2.json`, trimmed by
//! `scripts/gen-aws-models.py`): operations with their HTTP binding and shapes with their
//! types, members, required members, enums and limits. The restJson1 layer reads requests
//! and checks them against it, so a service implements behaviour, not wire details.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Model {
    pub metadata: Metadata,
    pub operations: BTreeMap<String, Operation>,
    pub shapes: HashMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub api_version: String,
    pub protocol: String,
    pub signing_name: Option<String>,
    pub service_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Operation {
    pub name: String,
    pub http: Http,
    pub input: Option<ShapeRef>,
    pub output: Option<ShapeRef>,
    #[serde(default)]
    pub errors: Vec<ShapeRef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    pub method: String,
    pub request_uri: String,
    pub response_code: Option<u16>,
}

/// A reference to a shape, with where the member travels when it is a member.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeRef {
    pub shape: String,
    pub location: Option<Location>,
    pub location_name: Option<String>,
    #[serde(default)]
    pub idempotency_token: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Uri,
    Querystring,
    Header,
    Headers,
    StatusCode,
}

#[derive(Debug, Deserialize)]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: ShapeKind,
    #[serde(default)]
    pub members: BTreeMap<String, ShapeRef>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub member: Option<Box<ShapeRef>>,
    pub key: Option<Box<ShapeRef>>,
    pub value: Option<Box<ShapeRef>>,
    pub error: Option<ErrorTrait>,
    #[serde(default)]
    pub exception: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeKind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Boolean,
    Timestamp,
    Blob,
    Double,
    Float,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorTrait {
    pub http_status_code: Option<u16>,
    pub code: Option<String>,
}

impl Model {
    /// Parses a model written by `scripts/gen-aws-models.py`.
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    /// The HTTP status the model gives an error shape (400 when it names none).
    pub fn error_status(&self, code: &str) -> u16 {
        self.shape(code)
            .and_then(|s| s.error.as_ref())
            .and_then(|e| e.http_status_code)
            .unwrap_or(400)
    }
}
