//! Loki's wire formats: push bodies in, JSON results out.

pub mod otlp;
pub mod push;
pub mod response;
