//! Creating many pods for one owner, as kube-controller-manager's `slowStartBatch`: in
//! batches of 1, 2, 4, ... behind expectations, so a create that fails (a quota, a bad
//! template) fails fast instead of once per pod. Each result is an event on the owner
//! (`SuccessfulCreate` / `FailedCreate`); creations that fail or are never tried are
//! counted as observed, since no watch event will come for them.

use std::future::Future;

use keks_apiserver::status::ApiError;
use serde_json::Value;

use crate::expectations::Expectations;
use crate::podutil;

/// Creates `count` pods (`create(i)` makes the i-th) for the owner `key`; `event(type,
/// reason, message)` records on the owner. Returns the first failure.
pub async fn create_pods<F, Fut>(
    expectations: &Expectations,
    key: &str,
    count: usize,
    mut create: F,
    event: impl Fn(&str, &str, String),
) -> Result<(), ApiError>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Value, ApiError>>,
{
    if count == 0 {
        return Ok(());
    }
    expectations.expect_creations(key, count as i64);
    let mut done = 0;
    let mut batch = 1;
    let mut failure = None;
    while done < count && failure.is_none() {
        let size = batch.min(count - done);
        let creates = (done..done + size).map(&mut create);
        for result in futures::future::join_all(creates).await {
            match result {
                Ok(pod) => event(
                    "Normal",
                    "SuccessfulCreate",
                    format!("Created pod: {}", podutil::name(&pod)),
                ),
                Err(e) => {
                    expectations.creation_observed(key);
                    event("Warning", "FailedCreate", format!("Error creating: {e}"));
                    failure = Some(e);
                }
            }
        }
        done += size;
        batch *= 2;
    }
    for _ in done..count {
        expectations.creation_observed(key);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
