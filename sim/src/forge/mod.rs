//! What the GitHub and GitLab simulators share: fault injection, the request rate limit,
//! webhook delivery and redelivery, and the shape of their errors. Each forge keeps only its
//! own dialect (routes, bodies, headers, payloads).

pub(crate) mod context;
pub mod error;
pub mod faults;
pub(crate) mod gate;
pub mod rate;
pub mod webhook;

pub use error::{ApiError, Dialect, SimError};
pub use faults::{Fault, Faults};
pub use rate::RateLimit;
pub use webhook::Delivery;
