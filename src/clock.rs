//! The clock operations read, injected so tests (and release records) can
//! fix the time instead of reading the system's.

use std::sync::Arc;

use jiff::Timestamp;

/// A source of the current time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system() -> Clock {
    Arc::new(Timestamp::now)
}
