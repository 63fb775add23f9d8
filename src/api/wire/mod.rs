//! Loki's wire formats: push bodies in, JSON results out.

pub mod push;
pub mod response;
