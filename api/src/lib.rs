//! Docker Engine API v1.41 types, shared by `pouchd` and its clients.
//!
//! Field names and JSON shapes follow Docker exactly (PascalCase keys with
//! Docker's own spellings such as `Id`, `NanoCpus`, `OOMKilled`,
//! `IPAddress`). Every type derives `Default` and decodes partial JSON;
//! like Go's `encoding/json`, `null` for a non-`Option` field decodes as the
//! default, while a value of the wrong type is an error.

pub mod container;
pub mod de;
pub mod error;
pub mod events;
pub mod exec;
pub mod filters;
pub mod image;
pub mod message;
pub mod network;
pub mod stats;
pub mod system;
pub mod volume;

#[cfg(test)]
mod test_util;

pub use error::ErrorResponse;
pub use filters::Filters;
pub use message::JsonMessage;

/// The API version served and spoken by pouch.
pub const API_VERSION: &str = "1.41";
/// The oldest API version pouchd accepts in a request path.
pub const MIN_API_VERSION: &str = "1.12";
