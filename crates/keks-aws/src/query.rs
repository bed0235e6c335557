//! The awsQuery protocol (STS, IAM, EC2's dialect aside): form-encoded `Action=...&Version=...`
//! requests, XML responses, and errors as `<ErrorResponse>` with `Type`, `Code`, `Message`.

use std::collections::HashMap;

/// A parsed awsQuery request.
pub struct QueryRequest {
    pub params: HashMap<String, String>,
}

impl QueryRequest {
    /// Parameters from the form body, or the query string for GET.
    pub fn parse(query: &str, body: &[u8]) -> Self {
        let mut params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        params.extend(form_urlencoded::parse(body).into_owned());
        Self { params }
    }

    pub fn action(&self) -> Option<&str> {
        self.params.get("Action").map(String::as_str)
    }
}

/// Escapes text for an XML element's content (quotes need no escaping there, and AWS
/// leaves them as they are).
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A successful response: `<{Action}Response><{Action}Result>...</...>`.
pub fn success(namespace: &str, action: &str, result_xml: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{namespace}\">\n  <{action}Result>\n{result_xml}  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    )
}

/// An error response.
pub fn error(namespace: &str, sender: bool, code: &str, message: &str, request_id: &str) -> String {
    let kind = if sender { "Sender" } else { "Receiver" };
    format!(
        "<ErrorResponse xmlns=\"{namespace}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        xml_escape(code),
        xml_escape(message)
    )
}

/// A successful response of an action without output: only `<ResponseMetadata>`.
pub fn success_empty(namespace: &str, action: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{namespace}\">\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    )
}

/// An awsQuery error before it is written for a service's namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl QueryError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// `ValidationError` (400) as the AWS query services word constraint violations.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message)
    }

    /// The error for a member that failed a constraint: `1 validation error detected: Value
    /// 'x' at 'userName' failed to satisfy constraint: Member must ...`.
    pub fn constraint(value: Option<&str>, member: &str, constraint: &str) -> Self {
        let value = match value {
            Some(v) => format!("'{v}'"),
            None => "null".to_string(),
        };
        Self::validation(format!(
            "1 validation error detected: Value {value} at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }

    pub fn to_response(&self, namespace: &str, request_id: &str) -> crate::front::Response {
        crate::front::Response::xml(
            self.status,
            error(
                namespace,
                self.status < 500,
                self.code,
                &self.message,
                request_id,
            ),
        )
    }
}

impl QueryRequest {
    /// A parameter, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The members of a list parameter: `Name.1`, `Name.2`, … (until the first gap).
    pub fn list(&self, name: &str) -> Vec<&str> {
        (1..)
            .map_while(|i| self.get(&format!("{name}.{i}")))
            .collect()
    }

    /// The `Key`/`Value` pairs of `Tags.member.N` (IAM) style parameters.
    pub fn tags(&self, prefix: &str) -> Vec<(String, String)> {
        (1..)
            .map_while(|i| {
                let key = self.get(&format!("{prefix}.{i}.Key"))?;
                let value = self.get(&format!("{prefix}.{i}.Value")).unwrap_or_default();
                Some((key.to_string(), value.to_string()))
            })
            .collect()
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (IAM returns policy
/// documents this way; botocore decodes them).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
