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

/// Escapes text for an XML element.
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
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
