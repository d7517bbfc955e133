//! Text input that passed the contract's rules. Lengths count Unicode characters,
//! not bytes. No text anywhere may hold U+0000 or other C0/C1 control characters
//! (only a message may hold `\n` and `\t`): PostgreSQL refuses NUL outright, and
//! controls in names let one user disguise themselves as another. Names also
//! refuse bidi overrides and zero-width characters for the same reason.

use crate::error::{AppError, AppResult};

pub const MSG_MAX_CHARS: usize = 4000;
pub const CLIENT_ID_MAX_CHARS: usize = 64;
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;
pub const STATUS_MAX_CHARS: usize = 140;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 256;
pub const SEARCH_MAX_CHARS: usize = 64;
pub const MESSAGE_QUERY_MIN_CHARS: usize = 2;
pub const MESSAGE_QUERY_MAX_CHARS: usize = 100;

fn has_control(s: &str, allowed: &[char]) -> bool {
    s.chars().any(|c| c.is_control() && !allowed.contains(&c))
}

/// What a name-like text (a display name, a group title) may not hold.
pub(crate) fn is_hidden(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Characters that change how the text around them is displayed without being
/// seen themselves: bidi embeddings, overrides and isolates, zero-width marks.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_type!(
    /// 3–32 of `a-z 0-9 _ . -`, stored and compared in lower case.
    Username
);
/// 8–256 characters. Its `Debug` never shows it, so it cannot reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}
text_type!(
    /// Trimmed, 1–64 visible characters.
    DisplayName
);
text_type!(
    /// At most 140 characters.
    StatusMessage
);
text_type!(
    /// 1–4000 characters, not only white space; kept exactly as sent.
    MessageText
);
text_type!(
    /// The sender's idempotency key: 1–64 characters.
    ClientId
);
text_type!(
    /// A directory search: trimmed, at most 64 characters, possibly empty.
    SearchQuery
);
text_type!(
    /// A message search: trimmed, 2–100 characters, without control characters.
    MessageQuery
);

impl Username {
    pub fn parse(raw: &str) -> AppResult<Self> {
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
        Ok(Self(name))
    }
}

impl Password {
    pub fn parse(raw: String) -> AppResult<Self> {
        let n = raw.chars().count();
        if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&n) || raw.contains('\0') {
            return Err(AppError::invalid(
                "invalid_password",
                format!("password must be {PASSWORD_MIN_CHARS}-{PASSWORD_MAX_CHARS} characters"),
            ));
        }
        Ok(Self(raw))
    }

    /// A password typed to sign in or to confirm: only bounded, since the rules
    /// may have changed since it was chosen. Too long is refused before hashing.
    pub fn presented(raw: String) -> AppResult<Self> {
        if raw.chars().count() > PASSWORD_MAX_CHARS {
            return Err(AppError::InvalidCredentials);
        }
        Ok(Self(raw))
    }
}

impl DisplayName {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let name = raw.trim();
        let n = name.chars().count();
        if n == 0
            || n > DISPLAY_NAME_MAX_CHARS
            || has_control(name, &[])
            || name.chars().any(is_invisible_format)
        {
            return Err(AppError::invalid(
                "invalid_display_name",
                format!(
                    "display name must be 1-{DISPLAY_NAME_MAX_CHARS} visible characters, \
                     without control or invisible formatting characters"
                ),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// A new account's default display name is its username.
    pub fn from_username(username: &Username) -> Self {
        Self(username.0.clone())
    }
}

impl StatusMessage {
    pub fn parse(raw: &str) -> AppResult<Self> {
        if raw.chars().count() > STATUS_MAX_CHARS || has_control(raw, &[]) {
            return Err(AppError::invalid(
                "invalid_status_message",
                format!(
                    "status must be at most {STATUS_MAX_CHARS} characters, without control characters"
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl MessageText {
    /// The empty text of a message that carries only attachments.
    pub fn empty() -> Self {
        Self(String::new())
    }

    pub fn parse(raw: String) -> AppResult<Self> {
        if raw.trim().is_empty() {
            return Err(AppError::invalid(
                "invalid_message",
                "message must not be empty",
            ));
        }
        if raw.chars().count() > MSG_MAX_CHARS {
            return Err(AppError::invalid(
                "message_too_long",
                format!("message must be at most {MSG_MAX_CHARS} characters"),
            ));
        }
        if has_control(&raw, &['\n', '\t']) {
            return Err(AppError::invalid(
                "invalid_message",
                "message must not contain control characters other than newline and tab",
            ));
        }
        Ok(Self(raw))
    }
}

impl ClientId {
    pub fn parse(raw: String) -> AppResult<Self> {
        let n = raw.chars().count();
        if n == 0 || n > CLIENT_ID_MAX_CHARS || has_control(&raw, &[]) {
            return Err(AppError::invalid(
                "invalid_client_id",
                format!(
                    "clientId must be 1-{CLIENT_ID_MAX_CHARS} characters, without control characters"
                ),
            ));
        }
        Ok(Self(raw))
    }

    /// A fresh key, for the lobby endpoint whose callers may omit one.
    pub fn generate() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }
}

impl SearchQuery {
    pub fn parse(raw: Option<&str>) -> AppResult<Self> {
        let q = raw.unwrap_or("").trim();
        if q.chars().count() > SEARCH_MAX_CHARS || has_control(q, &[]) {
            return Err(AppError::invalid(
                "invalid_query",
                format!(
                    "q must be at most {SEARCH_MAX_CHARS} characters, without control characters"
                ),
            ));
        }
        Ok(Self(q.to_owned()))
    }
}

impl MessageQuery {
    pub fn parse(raw: Option<&str>) -> AppResult<Self> {
        let q = raw.unwrap_or("").trim();
        let n = q.chars().count();
        if !(MESSAGE_QUERY_MIN_CHARS..=MESSAGE_QUERY_MAX_CHARS).contains(&n) || has_control(q, &[])
        {
            return Err(AppError::invalid(
                "invalid_search_query",
                format!(
                    "q must be {MESSAGE_QUERY_MIN_CHARS}-{MESSAGE_QUERY_MAX_CHARS} characters, \
                     without control characters"
                ),
            ));
        }
        Ok(Self(q.to_owned()))
    }

    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("Alice_01").unwrap().as_str(), "alice_01");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("álice").is_err());
        assert!(Username::parse("ali\0ce").is_err());
    }

    #[test]
    fn messages_count_characters_not_bytes() {
        assert!(MessageText::parse("가".repeat(4000)).is_ok());
        assert_eq!(
            MessageText::parse("가".repeat(4001)).unwrap_err().code(),
            "message_too_long"
        );
        assert!(MessageText::parse(" \n\t ".into()).is_err());
        assert!(MessageText::parse(" hi ".into()).is_ok());
    }

    #[test]
    fn controls_are_refused_but_newlines_and_tabs_in_messages() {
        assert!(MessageText::parse("line\nnext\tcol".into()).is_ok());
        assert!(MessageText::parse("nul\0".into()).is_err());
        assert!(MessageText::parse("bell\u{7}".into()).is_err());
        assert!(MessageText::parse("c1\u{85}".into()).is_err());
        assert!(ClientId::parse("c\0".into()).is_err());
        assert!(StatusMessage::parse("a\nb").is_err());
        assert!(SearchQuery::parse(Some("a\0")).is_err());
    }

    #[test]
    fn names_refuse_invisible_formatting() {
        assert_eq!(DisplayName::parse("  Ann  ").unwrap().as_str(), "Ann");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("ali\u{202E}ecila").is_err());
        assert!(DisplayName::parse("ali\u{200B}ce").is_err());
        assert!(DisplayName::parse("김철수").is_ok());
    }

    #[test]
    fn limits() {
        assert!(StatusMessage::parse(&"x".repeat(140)).is_ok());
        assert!(StatusMessage::parse(&"x".repeat(141)).is_err());
        assert!(ClientId::parse(String::new()).is_err());
        assert!(ClientId::parse("c".repeat(65)).is_err());
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("long enough".into()).is_ok());
        assert!(SearchQuery::parse(Some(&"q".repeat(65))).is_err());
        assert_eq!(SearchQuery::parse(Some("  a ")).unwrap().as_str(), "a");
        assert!(MessageQuery::parse(Some(" a ")).is_err());
        assert_eq!(MessageQuery::parse(Some(" 채팅 ")).unwrap().chars(), 2);
        assert!(MessageQuery::parse(Some(&"가".repeat(100))).is_ok());
        assert!(MessageQuery::parse(Some(&"가".repeat(101))).is_err());
        assert!(MessageQuery::parse(Some("a\nb")).is_err());
    }
}
