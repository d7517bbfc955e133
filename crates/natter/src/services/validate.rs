//! Input limits from the contract, checked on every path (HTTP and Socket.IO).
//! Lengths count Unicode characters, not bytes.

use crate::error::{AppError, AppResult};

pub const MSG_MAX_CHARS: usize = 4000;
pub const CLIENT_ID_MAX_CHARS: usize = 64;
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;
pub const STATUS_MAX_CHARS: usize = 140;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 256;
pub const PAGE_MAX: i64 = 100;
pub const PAGE_DEFAULT: i64 = 50;

/// 3–32 of `a-z 0-9 _ . -`, compared and stored in lower case.
pub fn username(raw: &str) -> AppResult<String> {
    let name = raw.to_ascii_lowercase();
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
    if !(3..=32).contains(&name.len()) || !valid_chars {
        return Err(AppError::invalid(
            "invalid_username",
            "username must be 3-32 characters of a-z, 0-9, '_', '.', '-'",
        ));
    }
    Ok(name)
}

pub fn password(raw: &str) -> AppResult<()> {
    let n = raw.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&n) {
        return Err(AppError::invalid(
            "invalid_password",
            format!("password must be {PASSWORD_MIN_CHARS}-{PASSWORD_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Trimmed, 1–64 characters.
pub fn display_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let n = name.chars().count();
    if n == 0 || n > DISPLAY_NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "invalid_display_name",
            format!("display name must be 1-{DISPLAY_NAME_MAX_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

pub fn status_message(raw: &str) -> AppResult<()> {
    if raw.chars().count() > STATUS_MAX_CHARS {
        return Err(AppError::invalid(
            "invalid_status_message",
            format!("status must be at most {STATUS_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// 1–4000 characters, not only white space; kept exactly as sent.
pub fn message_text(msg: &str) -> AppResult<()> {
    if msg.trim().is_empty() {
        return Err(AppError::invalid(
            "invalid_message",
            "message must not be empty",
        ));
    }
    if msg.chars().count() > MSG_MAX_CHARS {
        return Err(AppError::invalid(
            "message_too_long",
            format!("message must be at most {MSG_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

pub fn client_id(raw: &str) -> AppResult<()> {
    let n = raw.chars().count();
    if n == 0 || n > CLIENT_ID_MAX_CHARS {
        return Err(AppError::invalid(
            "invalid_client_id",
            format!("clientId must be 1-{CLIENT_ID_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// A page size: default when absent, 1–100 otherwise.
pub fn page_limit(raw: Option<i64>) -> AppResult<i64> {
    match raw {
        None => Ok(PAGE_DEFAULT),
        Some(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
        Some(_) => Err(AppError::invalid(
            "invalid_limit",
            format!("limit must be 1-{PAGE_MAX}"),
        )),
    }
}

/// A seq cursor or read mark: a non-negative integer.
pub fn seq(raw: i64, what: &'static str) -> AppResult<i64> {
    if raw < 0 {
        return Err(AppError::invalid(
            "invalid_seq",
            format!("{what} must not be negative"),
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("Alice_01").unwrap(), "alice_01");
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(username(&"a".repeat(32)).is_ok());
        assert!(username("al ice").is_err());
        assert!(username("álice").is_err());
    }

    #[test]
    fn messages_count_characters_not_bytes() {
        assert!(message_text(&"가".repeat(4000)).is_ok());
        assert!(message_text(&"가".repeat(4001)).is_err());
        assert!(message_text(" \n\t ").is_err());
        assert!(message_text(" hi ").is_ok());
    }

    #[test]
    fn limits_and_names() {
        assert_eq!(page_limit(None).unwrap(), 50);
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(101)).is_err());
        assert_eq!(display_name("  Ann  ").unwrap(), "Ann");
        assert!(display_name("   ").is_err());
        assert!(status_message(&"x".repeat(140)).is_ok());
        assert!(status_message(&"x".repeat(141)).is_err());
        assert!(client_id("").is_err());
        assert!(client_id(&"c".repeat(65)).is_err());
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
    }
}
