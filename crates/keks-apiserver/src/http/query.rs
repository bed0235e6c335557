//! Query parameters of API requests: list, watch, write and delete options.

use std::collections::HashMap;
use std::time::Duration;

use crate::rest::{ListOptions, RvMatch, WatchOptions};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;

/// The decoded query string.
#[derive(Clone, Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A boolean parameter, true as Go's `strconv.ParseBool` reads it (`1`, `t`, `T`,
    /// `TRUE`, `true`, `True`): the Python client sends `watch=True`.
    pub fn flag(&self, name: &str) -> bool {
        matches!(
            self.get(name),
            Some("1" | "t" | "T" | "TRUE" | "true" | "True")
        )
    }

    pub fn list_options(&self) -> Result<ListOptions, ApiError> {
        let label_selector = LabelSelector::parse(self.get("labelSelector").unwrap_or_default())
            .map_err(ApiError::BadRequest)?;
        let field_selector = FieldSelector::parse(self.get("fieldSelector").unwrap_or_default())
            .map_err(ApiError::BadRequest)?;
        let limit = match self.get("limit") {
            None | Some("") => 0,
            Some(l) => l
                .parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid limit: {l:?}")))?
                .max(0) as usize,
        };
        let rv_match = match self.get("resourceVersionMatch") {
            None | Some("") => RvMatch::Unset,
            Some("NotOlderThan") => RvMatch::NotOlderThan,
            Some("Exact") => RvMatch::Exact,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\", \"\""
                )))
            }
        };
        let continue_token = self
            .get("continue")
            .map(str::to_string)
            .filter(|c| !c.is_empty());
        let resource_version = self.get("resourceVersion").map(str::to_string);
        if continue_token.is_some() && resource_version.as_deref().is_some_and(|rv| !rv.is_empty())
        {
            return Err(ApiError::BadRequest(
                "specifying resource version is not allowed when using continue".into(),
            ));
        }
        if rv_match != RvMatch::Unset && resource_version.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::BadRequest(
                "resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
            ));
        }
        Ok(ListOptions {
            label_selector,
            field_selector,
            limit,
            continue_token,
            resource_version,
            rv_match,
        })
    }

    pub fn watch_options(&self) -> Result<WatchOptions, ApiError> {
        let mut list = self.list_options()?;
        list.limit = 0;
        let timeout = match self.get("timeoutSeconds") {
            None | Some("") => None,
            Some(t) => Some(Duration::from_secs(t.parse().map_err(|_| {
                ApiError::BadRequest(format!("invalid timeoutSeconds: {t:?}"))
            })?)),
        };
        let send_initial_events = self.flag("sendInitialEvents");
        if send_initial_events && list.rv_match != RvMatch::NotOlderThan {
            return Err(ApiError::BadRequest(
                "sendInitialEvents is forbidden unless resourceVersionMatch is set to NotOlderThan"
                    .into(),
            ));
        }
        Ok(WatchOptions {
            list,
            allow_bookmarks: self.flag("allowWatchBookmarks"),
            send_initial_events,
            timeout,
        })
    }

    /// `dryRun=All`; any other value is refused as Kubernetes refuses it.
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!(
                "Invalid dry run value: \"{other}\": supported values: \"All\""
            ))),
        }
    }
}
