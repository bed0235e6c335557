//! Lifecycle work the API server does for its own objects until the controllers crate
//! takes it over: emptying and finalizing terminating namespaces, garbage collection, and
//! the store's history compaction.

pub mod compactor;
mod gc;
mod namespaces;

pub use gc::GarbageCollector;
pub use namespaces::NamespaceFinalizer;
