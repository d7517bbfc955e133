//! The OpenAPI 3.1 document of the HTTP API, served at `GET /api/openapi.json`.
//!
//! It is assembled from the same registrations that build the router
//! (`utoipa_axum::routes!` in `http::api_routes`), so a route cannot exist
//! without its entry; each handler's `#[utoipa::path]` and the contract's types
//! (`crate::contract`) give the bodies, answers and errors.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{OpenApi, Ref, Server};
use utoipa::{Modify, OpenApi as _};

use super::extract::session_cookie_name;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "natter",
        description = "The HTTP half of natter's wire contract; the Socket.IO half \
                       (events at `/api/socket.io`) is in docs/api.md. Every error \
                       answer has the body `{error: {code, message}}`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&Security),
    tags(
        (name = "accounts", description = "sign-up, sign-in, sign-out"),
        (name = "profile", description = "the caller's profile and pictures"),
        (name = "directory", description = "finding people"),
        (name = "conversations", description = "the conversation list and read marks"),
        (name = "messages", description = "history and sending"),
        (name = "operations", description = "health checks"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(session_cookie_name()))),
        );
    }
}

/// The document's skeleton; the router fills in its paths.
pub fn base() -> OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![Server::new("/")]);
    doc
}

/// Paths anyone may call; every other one needs a session.
const PUBLIC: [&str; 7] = [
    "/api/auth/register",
    "/api/auth/login",
    "/api/avatars/{id}",
    "/api/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// What every operation shares, added once here instead of on each handler:
/// the session requirement, and that any error not listed comes in the
/// contract's shape.
pub fn finish(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            if !PUBLIC.contains(&path.as_str()) {
                operation.security = Some(vec![
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                    SecurityRequirement::new("cookie", Vec::<String>::new()),
                ]);
            }
            if path.starts_with("/api/") {
                add_default_error(operation);
            }
        }
    }
}

fn add_default_error(operation: &mut Operation) {
    let error = ResponseBuilder::new()
        .description("any other error, in the contract's shape `{error: {code, message}}`")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    operation
        .responses
        .responses
        .entry("default".to_owned())
        .or_insert(error.into());
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// `(METHOD, /path/{param})` of every `### \`METHOD /path…\`` heading in docs/api.md.
    fn documented_in_api_md() -> BTreeSet<(String, String)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
        let text = std::fs::read_to_string(path).expect("docs/api.md");
        text.lines()
            .filter_map(|line| line.strip_prefix("### `"))
            .filter_map(|rest| {
                let heading = rest.split('`').next()?;
                let (method, path) = heading.split_once(' ')?;
                let path = path.split(['?', '[']).next()?;
                Some((method.to_owned(), path.to_owned()))
            })
            .collect()
    }

    fn in_the_document() -> BTreeSet<(String, String)> {
        let doc = super::super::openapi_document();
        let mut routes = BTreeSet::new();
        for (path, item) in doc.paths.paths {
            let methods = [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ];
            for (method, operation) in methods {
                if operation.is_some() {
                    routes.insert((method.to_owned(), path.clone()));
                }
            }
        }
        routes
    }

    #[test]
    fn the_document_and_docs_api_md_list_the_same_routes() {
        let (doc, md) = (in_the_document(), documented_in_api_md());
        let undocumented: Vec<_> = doc.difference(&md).collect();
        let missing: Vec<_> = md.difference(&doc).collect();
        assert!(
            undocumented.is_empty(),
            "in the OpenAPI document, not in docs/api.md: {undocumented:?}"
        );
        assert!(
            missing.is_empty(),
            "in docs/api.md, not in the OpenAPI document: {missing:?}"
        );
        assert!(doc.contains(&("POST".into(), "/api/conversations/{id}/messages".into())));
    }

    #[test]
    fn the_document_is_openapi_3_1_with_its_schemas() {
        let json = serde_json::to_value(super::super::openapi_document()).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        let schemas = &json["components"]["schemas"];
        for name in [
            "User",
            "Message",
            "Conversation",
            "ErrorBody",
            "HistoryPage",
        ] {
            assert!(schemas.get(name).is_some(), "schema {name} missing");
        }
    }
}
