//! The parameters of API operations (query options and path segments), in the OpenAPI v3
//! form kube-apiserver publishes: `{"name", "in", "description", "schema": {"type",
//! "uniqueItems": true}}`.

use serde_json::{json, Value};

/// The query options of list and watch calls.
pub(super) const LIST: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];

/// The options of create and replace calls.
pub(super) const WRITE: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];

/// The options of patch calls.
pub(super) const PATCH: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];

/// The options of delete calls.
pub(super) const DELETE: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
];

/// The options of deletecollection calls: delete options plus list options.
pub(super) const DELETE_COLLECTION: &[&str] = &[
    "continue",
    "dryRun",
    "fieldSelector",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "labelSelector",
    "limit",
    "orphanDependents",
    "propagationPolicy",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
];

/// The options of a pod's `log` subresource.
pub(super) const LOG: &[&str] = &[
    "container",
    "follow",
    "insecureSkipTLSVerifyBackend",
    "limitBytes",
    "previous",
    "sinceSeconds",
    "stream",
    "tailLines",
    "timestamps",
];

/// A query parameter by name.
pub(super) fn query(name: &str) -> Value {
    let (kind, description) = describe(name);
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": true},
    })
}

/// The `name` path parameter of a kind's objects.
pub(super) fn name(kind: &str) -> Value {
    path("name", &format!("name of the {kind}"))
}

/// The `namespace` path parameter.
pub(super) fn namespace() -> Value {
    path(
        "namespace",
        "object name and auth scope, such as for teams and projects",
    )
}

fn path(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": {"type": "string", "uniqueItems": true},
    })
}

/// The type and a description of each query option.
fn describe(name: &str) -> (&'static str, &'static str) {
    match name {
        "pretty" => ("string", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."),
        "allowWatchBookmarks" => ("boolean", "allowWatchBookmarks asks a watch for events of type \"BOOKMARK\" that carry only the current resourceVersion. The server sends them at its discretion; ignored unless this is a watch."),
        "continue" => ("string", "The continue token of a previous list response with the same query, to get the next chunk of results. An expired token is answered with 410 ResourceExpired. Not supported when watch is true."),
        "fieldSelector" => ("string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
        "labelSelector" => ("string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
        "limit" => ("integer", "limit is the maximum number of objects a list call returns. If more exist, the list metadata carries a `continue` token for the next chunk; all chunks together are one consistent snapshot. Not supported when watch is true."),
        "resourceVersion" => ("string", "resourceVersion constrains which resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
        "resourceVersionMatch" => ("string", "resourceVersionMatch says how resourceVersion applies to list calls (Exact or NotOlderThan); set it whenever resourceVersion is set on a list. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
        "sendInitialEvents" => ("boolean", "With `watch=true`, `sendInitialEvents=true` starts the watch with synthetic ADDED events for the current objects, followed by a BOOKMARK annotated `\"k8s.io/initial-events-end\": \"true\"`; then changes follow as usual. Requires resourceVersionMatch=NotOlderThan."),
        "timeoutSeconds" => ("integer", "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity."),
        "watch" => ("boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion."),
        "dryRun" => ("string", "When present, the request is processed by every stage but nothing is persisted. An unrecognized value is an error. Valid values are: - All: all dry run stages will be processed"),
        "fieldManager" => ("string", "fieldManager names the actor or entity making these changes. At most 128 printable characters."),
        "fieldValidation" => ("string", "fieldValidation says what the server does with unknown or duplicate fields in the object of a POST, PUT or PATCH request. Valid values are: - Ignore: unknown fields are silently dropped and the last of duplicate fields wins. - Warn: a warning is sent in the standard warning response header for each unknown field dropped and each duplicate field found; the request still succeeds. This is the default. - Strict: the request fails with a BadRequest error listing every unknown and duplicate field."),
        "force" => ("boolean", "Force re-acquires fields owned by other managers in an Apply request. Must be unset for non-apply patch requests."),
        "gracePeriodSeconds" => ("integer", "The duration in seconds before the object should be deleted. Must be non-negative; zero means delete immediately. If unset, the default grace period for the kind is used."),
        "ignoreStoreReadErrorWithClusterBreakingPotential" => ("boolean", "if set to true, an object that cannot be read from storage (undecodable or untransformable) is deleted without running the normal deletion flow. Dangerous; needs the 'unsafe-delete-ignore-read-errors' permission. Defaults to false."),
        "orphanDependents" => ("boolean", "Deprecated: use propagationPolicy. Whether dependents are orphaned: true or false adds or removes the \"orphan\" finalizer. Set this or propagationPolicy, not both."),
        "propagationPolicy" => ("string", "Whether and how garbage collection will be performed: 'Orphan' orphans the dependents, 'Background' lets the garbage collector delete them in the background, 'Foreground' deletes them before the owner. Set this or orphanDependents, not both; the default comes from the object's finalizers and the resource."),
        "container" => ("string", "The container for which to stream logs. Defaults to only container if there is one container in the pod."),
        "follow" => ("boolean", "Follow the log stream of the pod. Defaults to false."),
        "insecureSkipTLSVerifyBackend" => ("boolean", "insecureSkipTLSVerifyBackend means the apiserver does not verify the serving certificate of the kubelet it reads logs from."),
        "limitBytes" => ("integer", "If set, the number of bytes to read from the server before terminating the log output. The output may end mid-line."),
        "previous" => ("boolean", "Return previous terminated container logs. Defaults to false."),
        "sinceSeconds" => ("integer", "A relative time in seconds before the current time from which to show logs. Only one of sinceSeconds or sinceTime may be specified."),
        "stream" => ("string", "Which container log stream to return: All, Stdout or Stderr. Defaults to All."),
        "tailLines" => ("integer", "If set, the number of lines from the end of the logs to show. If not specified, logs are shown from the creation of the container or sinceSeconds or sinceTime"),
        "timestamps" => ("boolean", "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false."),
        _ => ("string", ""),
    }
}
