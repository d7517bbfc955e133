//! The domain's value types: identifiers, and input that passed its rules.
//!
//! Parse, don't validate: a `MessageText` or a `ConversationId` can only be made
//! by its parser, so a service that takes one cannot receive unchecked input, and
//! ids of different things cannot be swapped. The wire layers parse; services take
//! and return these types; the store binds and decodes them as plain strings.

pub mod group;
pub mod ids;
pub mod text;
pub mod time;

pub use group::{Emoji, GroupTitle};
pub use ids::{AttachmentId, AvatarId, ConversationId, MessageId, UserId};
pub use text::{
    ClientId, DisplayName, MessageQuery, MessageText, Password, SearchQuery, StatusMessage,
    Username,
};
pub use time::{Millis, now_ms};

use crate::error::{AppError, AppResult};

/// A message's position in its conversation, or a read mark: never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq(i64);

impl Seq {
    pub const ZERO: Seq = Seq(0);

    /// `what` names the field in the error (`seq`, `before`, `after`).
    pub fn parse(raw: i64, what: &'static str) -> AppResult<Self> {
        if raw < 0 {
            return Err(AppError::invalid(
                "invalid_seq",
                format!("{what} must not be negative"),
            ));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

pub const PAGE_MAX: i64 = 100;
pub const PAGE_DEFAULT: i64 = 50;

/// A page size: the default when absent, 1–100 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(i64);

impl PageLimit {
    pub fn parse(raw: Option<i64>) -> AppResult<Self> {
        Self::within(raw, PAGE_DEFAULT, PAGE_MAX)
    }

    /// For lists with their own default and maximum (search: 20 of at most 50).
    pub fn within(raw: Option<i64>, default: i64, max: i64) -> AppResult<Self> {
        match raw {
            None => Ok(Self(default)),
            Some(n) if (1..=max).contains(&n) => Ok(Self(n)),
            Some(_) => Err(AppError::invalid(
                "invalid_limit",
                format!("limit must be 1-{max}"),
            )),
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqs_and_limits() {
        assert_eq!(Seq::parse(0, "seq").unwrap().get(), 0);
        assert_eq!(Seq::parse(-1, "seq").unwrap_err().code(), "invalid_seq");
        assert_eq!(PageLimit::parse(None).unwrap().get(), 50);
        assert!(PageLimit::parse(Some(0)).is_err());
        assert!(PageLimit::parse(Some(101)).is_err());
        assert_eq!(PageLimit::parse(Some(100)).unwrap().get(), 100);
    }
}
