//! Input rules of groups and reactions: a group's title, its member list, and
//! a reaction's emoji.

use unicode_segmentation::UnicodeSegmentation;

use super::UserId;
use crate::error::{AppError, AppResult};

pub const TITLE_MAX_CHARS: usize = 100;
/// Members of one group, its owner included.
pub const GROUP_MAX_MEMBERS: usize = 256;

/// 1–100 characters after trimming, without control or invisible characters
/// (a title is shown like a name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTitle(String);

impl GroupTitle {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let title = raw.trim();
        let n = title.chars().count();
        if n == 0 || n > TITLE_MAX_CHARS || title.chars().any(super::text::is_hidden) {
            return Err(AppError::invalid(
                "invalid_title",
                format!(
                    "a group title is 1-{TITLE_MAX_CHARS} characters, without control characters"
                ),
            ));
        }
        Ok(Self(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// User ids from the wire, each parsed, duplicates dropped, the caller's own
/// id left out; `max` bounds how many remain (422 `too_many_members`).
pub fn member_ids(raw: &[String], caller: &UserId, max: usize) -> AppResult<Vec<UserId>> {
    let mut ids: Vec<UserId> = Vec::with_capacity(raw.len());
    for id in raw {
        let id = UserId::parse(id).map_err(|_| AppError::NotFound("user"))?;
        if id != *caller && !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > max {
        return Err(too_many_members());
    }
    Ok(ids)
}

pub fn too_many_members() -> AppError {
    AppError::invalid(
        "too_many_members",
        format!("a group has at most {GROUP_MAX_MEMBERS} members"),
    )
}

/// Exactly one emoji grapheme cluster: skin tones, ZWJ sequences, keycaps and
/// flags included, with or without U+FE0F where Unicode allows either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    pub fn parse(raw: &str) -> AppResult<Self> {
        let one_cluster = raw.graphemes(true).count() == 1;
        if one_cluster && emojis::get(raw).is_some() {
            return Ok(Self(raw.to_owned()));
        }
        Err(AppError::invalid(
            "invalid_emoji",
            "a reaction is exactly one emoji",
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_accepts_one_emoji_of_any_shape() {
        for ok in ["👍", "👍🏽", "❤️", "👩‍👩‍👧", "🇰🇷", "1️⃣", "🏳️‍🌈"]
        {
            assert!(Emoji::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "👍👍", "ok", "👍 ", "ㅋ", "\u{FE0F}"] {
            assert_eq!(
                Emoji::parse(bad).unwrap_err().code(),
                "invalid_emoji",
                "{bad}"
            );
        }
    }

    #[test]
    fn titles_and_member_lists() {
        assert_eq!(GroupTitle::parse("  팀 채팅 ").unwrap().as_str(), "팀 채팅");
        assert!(GroupTitle::parse("   ").is_err());
        assert!(GroupTitle::parse(&"x".repeat(101)).is_err());
        let me = UserId::generate();
        let other = UserId::generate();
        let raw = [other.to_string(), other.to_string(), me.to_string()];
        assert_eq!(member_ids(&raw, &me, 255).unwrap(), [other]);
        assert_eq!(
            member_ids(&["../x".into()], &me, 255).unwrap_err().code(),
            "not_found"
        );
    }
}
