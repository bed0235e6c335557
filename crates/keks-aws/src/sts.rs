//! STS (awsQuery, version 2011-06-15): GetCallerIdentity, which `aws sts
//! get-caller-identity` and `aws eks get-token` tokens rely on. Other actions answer the
//! honest "not implemented" error.

use super::account::Principal;
use super::front::Response;
use super::query::{self, xml_escape, QueryRequest};

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub fn handle(principal: &Principal, req: &QueryRequest, request_id: &str) -> Response {
    match req.action() {
        Some("GetCallerIdentity") => {
            let result = format!(
                "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
                xml_escape(&principal.arn),
                xml_escape(&principal.user_id),
                xml_escape(&principal.account)
            );
            Response::xml(
                200,
                query::success(NAMESPACE, "GetCallerIdentity", &result, request_id),
            )
        }
        Some(action) => Response::xml(
            501,
            query::error(
                NAMESPACE,
                false,
                "NotImplemented",
                &format!("STS action {action} is not implemented by keks yet"),
                request_id,
            ),
        ),
        None => Response::xml(
            400,
            query::error(
                NAMESPACE,
                true,
                "MissingAction",
                "Missing Action",
                request_id,
            ),
        ),
    }
}
