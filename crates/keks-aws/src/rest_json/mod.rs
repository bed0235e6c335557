//! The restJson1 protocol, once for every service that speaks it: the operation from the
//! method and path, the input from labels, query, headers and a JSON body checked against
//! the service model, and the response or error as AWS writes them (`x-amzn-ErrorType`
//! header, JSON body with `message` and the error's modelled members).

pub mod input;
pub mod model;
pub mod router;

use serde_json::{Map, Value};

use crate::front::{HttpRequest, Response};
pub use input::InputError;
pub use model::Model;
use router::Router;

/// A service's model with its routes.
pub struct RestJson {
    pub model: Model,
    router: Router,
}

/// A parsed call: the operation's name and its validated input.
#[derive(Debug)]
pub struct Call {
    pub operation: String,
    pub input: Value,
}

/// An error as the wire carries it; services produce these in one mapping of their own
/// error enum.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    pub code: String,
    pub message: String,
    /// Modelled members besides `message` (for example `clusterName`).
    pub members: Map<String, Value>,
}

impl WireError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            members: Map::new(),
        }
    }

    pub fn with(mut self, member: &str, value: impl Into<Value>) -> Self {
        self.members.insert(member.to_string(), value.into());
        self
    }
}

impl RestJson {
    pub fn new(model: Model) -> Self {
        let router = Router::new(&model);
        Self { model, router }
    }

    /// Reads a request into a call, or the error to answer with.
    pub fn parse(&self, req: &HttpRequest<'_>) -> Result<Call, WireError> {
        let query: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
            .into_owned()
            .collect();
        let Some(matched) = self.router.find(req.method, req.path, &query) else {
            return Err(WireError::new(
                "UnknownOperationException",
                format!("No operation matches {} {}", req.method, req.path),
            ));
        };
        let operation = &self.model.operations[matched.operation];
        let input = match &operation.input {
            None => Value::Object(Map::new()),
            Some(shape) => input::read(
                &self.model,
                &shape.shape,
                &input::RawRequest {
                    labels: &matched.labels,
                    query: &query,
                    headers: &req.headers,
                    body: req.body,
                },
            )
            .map_err(|e| self.input_error(&operation.name, e))?,
        };
        Ok(Call {
            operation: operation.name.clone(),
            input,
        })
    }

    /// The error code a service uses for invalid input: its modelled parameter error, as
    /// the service itself answers such requests.
    fn input_error(&self, operation: &str, e: InputError) -> WireError {
        match e {
            InputError::Serialization(m) => WireError::new("SerializationException", m),
            InputError::Validation(_) => {
                let errors = &self.model.operations[operation].errors;
                let code = [
                    "InvalidParameterException",
                    "InvalidRequestException",
                    "BadRequestException",
                ]
                .into_iter()
                .find(|c| errors.iter().any(|e| e.shape == *c))
                .unwrap_or("ValidationException");
                WireError::new(code, e.to_string())
            }
        }
    }

    /// A successful answer.
    pub fn success(&self, operation: &str, output: &Value) -> Response {
        let status = self
            .model
            .operations
            .get(operation)
            .and_then(|o| o.http.response_code)
            .unwrap_or(200);
        Response::json(status, None, output)
    }

    /// An error answer, with the status the model gives the error's shape.
    pub fn error(&self, e: &WireError) -> Response {
        let status = match e.code.as_str() {
            "UnknownOperationException" => 404,
            "SerializationException" => 400,
            "NotImplementedException" => 501,
            code => self.model.error_status(code),
        };
        let mut body = e.members.clone();
        body.insert("message".into(), Value::String(e.message.clone()));
        Response::json(status, Some(&e.code), &Value::Object(body))
    }
}
