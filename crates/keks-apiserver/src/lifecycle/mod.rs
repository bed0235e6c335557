//! Lifecycle work the API server does for its own objects until the controllers crate
//! takes it over: emptying and finalizing terminating namespaces.

mod namespaces;

pub use namespaces::NamespaceFinalizer;
