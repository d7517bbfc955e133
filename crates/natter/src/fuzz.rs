//! Property-based fuzzing of everything that parses client input: the Socket.IO
//! payloads (`ClientRequest` types), the JSON request bodies, and the domain
//! parsers they feed. Properties: nothing panics on any input, and whatever is
//! accepted satisfies its type's rules and parses again to itself.
//!
//! `cargo test` runs a few hundred cases per property; a long run is
//! `PROPTEST_CASES=200000 cargo test --release -p natter --lib fuzz::`
//! (docs/security.md, "Fuzzing").

use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::contract::bodies::{
    ChatRequest, LoginRequest, OpenConversation, PasswordChange, ProfilePatch, ReadRequest,
    RegisterRequest, SendRequest,
};
use crate::contract::events::{ClientRequest, MarkRead, SendMessage, StartTyping};
use crate::domain::text::{
    ClientId, DisplayName, MSG_MAX_CHARS, MessageText, Password, SearchQuery, StatusMessage,
    Username,
};
use crate::domain::{ConversationId, MessageId, UserId};

/// Field names of the payloads and bodies, so that generated objects often
/// decode and the parsers behind the decoder get exercised too.
const FIELDS: [&str; 13] = [
    "conversationId",
    "msg",
    "clientId",
    "seq",
    "username",
    "password",
    "displayName",
    "statusMessage",
    "currentPassword",
    "newPassword",
    "userId",
    "q",
    "extra",
];

/// Text that reaches the interesting cases: controls, NUL, bidi and zero-width
/// characters, white space, long runs, and anything else Unicode has.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9_.\\- ]{0,40}",
        prop::collection::vec(
            prop_oneof![
                Just('\0'),
                Just('\n'),
                Just('\t'),
                Just('\u{202E}'),
                Just('\u{200B}'),
                Just('\u{FEFF}'),
                Just('\u{85}'),
                Just(' '),
                Just('a'),
                Just('é'),
                any::<char>(),
            ],
            0..80,
        )
        .prop_map(String::from_iter),
        (any::<char>(), 3990..4010usize).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(&FIELDS[..]).prop_map(str::to_owned),
                    text()
                ],
                inner,
                0..6,
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// An object with payload-like keys: most decode, many pass the parsers.
fn payload() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        text().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        json(),
    ];
    prop::collection::btree_map(prop::sample::select(&FIELDS[..]), field, 0..6)
        .prop_map(|map| Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

/// Decodes `value` and its serialised bytes; both agree.
fn decode<T: DeserializeOwned>(value: &Value) -> Option<T> {
    let from_value = serde_json::from_value::<T>(value.clone()).ok();
    let bytes = serde_json::to_vec(value).expect("a Value serialises");
    let from_bytes = serde_json::from_slice::<T>(&bytes).ok();
    assert_eq!(from_value.is_some(), from_bytes.is_some(), "{value}");
    from_bytes
}

/// A socket payload that decodes encodes back to what decodes to the same.
fn round_trips<R: ClientRequest + Serialize>(value: &Value) -> Option<R> {
    let request = decode::<R>(value)?;
    let encoded = serde_json::to_value(&request).unwrap();
    let again: R = serde_json::from_value(encoded.clone()).expect("re-decodes");
    assert_eq!(serde_json::to_value(&again).unwrap(), encoded);
    Some(again)
}

fn check_ids(raw: &str) {
    if let Ok(id) = UserId::parse(raw) {
        assert_eq!(id.as_str(), raw);
        assert!(!raw.is_empty() && raw.len() <= 64);
        assert!(
            raw.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
    assert_eq!(
        ConversationId::parse(raw).is_ok(),
        MessageId::parse(raw).is_ok()
    );
}

fn no_control(s: &str, allowed: &[char]) -> bool {
    !s.chars().any(|c| c.is_control() && !allowed.contains(&c))
}

fn check_username(raw: &str) {
    if let Ok(name) = Username::parse(raw) {
        let s = name.as_str();
        assert!((3..=32).contains(&s.len()), "{s:?}");
        assert!(s.bytes().all(|b| b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || matches!(b, b'_' | b'.' | b'-')));
        assert_eq!(s, raw.to_ascii_lowercase());
        assert_eq!(Username::parse(s).unwrap(), name);
    }
}

fn check_display_name(raw: &str) {
    if let Ok(name) = DisplayName::parse(raw) {
        let s = name.as_str();
        assert_eq!(s, raw.trim());
        assert!((1..=64).contains(&s.chars().count()));
        assert!(no_control(s, &[]), "{s:?}");
        assert!(!s.contains(['\u{202E}', '\u{200B}', '\u{FEFF}']), "{s:?}");
        assert_eq!(DisplayName::parse(s).unwrap(), name);
    }
}

fn check_message(raw: &str) {
    if let Ok(text) = MessageText::parse(raw.to_owned()) {
        let s = text.as_str();
        assert_eq!(s, raw, "kept exactly as sent");
        assert!(!s.trim().is_empty() && s.chars().count() <= MSG_MAX_CHARS);
        assert!(no_control(s, &['\n', '\t']), "{s:?}");
    }
}

fn check_client_id(raw: &str) {
    if let Ok(id) = ClientId::parse(raw.to_owned()) {
        assert_eq!(id.as_str(), raw);
        assert!((1..=64).contains(&raw.chars().count()));
        assert!(no_control(raw, &[]), "{raw:?}");
    }
}

fn check_free_text(raw: &str) {
    if let Ok(q) = SearchQuery::parse(Some(raw)) {
        assert_eq!(q.as_str(), raw.trim());
        assert!(no_control(q.as_str(), &[]));
    }
    if let Ok(status) = StatusMessage::parse(raw) {
        assert!(no_control(status.as_str(), &[]) && status.as_str().chars().count() <= 140);
    }
    if let Ok(password) = Password::parse(raw.to_owned()) {
        assert!(!password.as_str().contains('\0'));
        assert!(
            !format!("{password:?}").contains(raw),
            "Debug never shows it"
        );
    }
    let _ = Password::presented(raw.to_owned());
}

/// Every parser a string field of a body or payload may reach.
fn check_all_parsers(raw: &str) {
    check_ids(raw);
    check_username(raw);
    check_display_name(raw);
    check_message(raw);
    check_client_id(raw);
    check_free_text(raw);
}

fn strings_in(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s],
        Value::Array(items) => items.iter().flat_map(strings_in).collect(),
        Value::Object(map) => map.values().flat_map(strings_in).collect(),
        _ => vec![],
    }
}

proptest! {
    #[test]
    fn domain_parsers_hold_their_rules(raw in text()) {
        check_all_parsers(&raw);
    }

    #[test]
    fn socket_payloads_decode_and_round_trip(value in prop_oneof![payload(), json()]) {
        if let Some(send) = round_trips::<SendMessage>(&value) {
            check_ids(&send.conversation_id);
            check_message(&send.msg);
            check_client_id(&send.client_id);
        }
        if let Some(typing) = round_trips::<StartTyping>(&value) {
            check_ids(&typing.conversation_id);
        }
        if let Some(read) = round_trips::<MarkRead>(&value) {
            check_ids(&read.conversation_id);
            let _ = crate::domain::Seq::parse(read.seq, "seq");
        }
    }

    #[test]
    fn request_bodies_decode_without_panic(value in prop_oneof![payload(), json()]) {
        let _ = decode::<RegisterRequest>(&value);
        let _ = decode::<LoginRequest>(&value);
        let _ = decode::<PasswordChange>(&value);
        let _ = decode::<OpenConversation>(&value);
        let _ = decode::<SendRequest>(&value);
        let _ = decode::<ChatRequest>(&value);
        let _ = decode::<ReadRequest>(&value);
        // serde also decodes a struct from an array of its fields, in order.
        if let (Some(patch), Some(object)) = (decode::<ProfilePatch>(&value), value.as_object()) {
            let known = ["displayName", "statusMessage"];
            prop_assert!(object.keys().all(|k| known.contains(&k.as_str())), "unknown fields are refused");
            prop_assert_eq!(
                patch.display_name.is_some(),
                object.get("displayName").is_some_and(|v| !v.is_null())
            );
        }
        for raw in strings_in(&value) {
            check_all_parsers(raw);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_slice::<SendMessage>(&bytes);
        let _ = serde_json::from_slice::<StartTyping>(&bytes);
        let _ = serde_json::from_slice::<MarkRead>(&bytes);
        let _ = serde_json::from_slice::<RegisterRequest>(&bytes);
        let _ = serde_json::from_slice::<ProfilePatch>(&bytes);
        let _ = serde_json::from_slice::<SendRequest>(&bytes);
        let _ = serde_json::from_slice::<ChatRequest>(&bytes);
        let _ = serde_json::from_slice::<ReadRequest>(&bytes);
    }
}
