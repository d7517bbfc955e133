//! `POST /api/uploads` and `GET /api/attachments/{id}` (and `/thumb`): taking
//! files and serving them to the people allowed to see them.
//!
//! Served bytes never run as a page of ours: images only as the four formats
//! they sniffed as, under `Content-Security-Policy: sandbox`; everything else as
//! an `application/octet-stream` download; always `nosniff`.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::{Auth, Json};
use crate::contract::bodies::{AttachmentAnswer, AttachmentUpload};
use crate::contract::events::ErrorBody;
use crate::error::{AppError, AppResult};
use crate::services::attachments::{self, OCTET_STREAM, multipart_error, too_large};
use crate::state::Ctx;
use crate::store::attachments::AttachmentRow;

/// Room for the multipart boundaries and headers around the file itself.
const MULTIPART_SLACK: u64 = 64 * 1024;

/// Stores a file for a later send; only its uploader can see it until then.
#[utoipa::path(post, path = "/uploads", tag = "messages",
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "stored", body = AttachmentAnswer),
        (status = 400, description = "`missing_file`, `invalid_multipart`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over `NATTER_MAX_UPLOAD` (25 MiB)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not multipart/form-data", body = ErrorBody),
        (status = 422, description = "`empty_file`, `image_too_large` (a picture over 40 megapixels)", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ))]
pub async fn upload(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    request: Request,
) -> AppResult<(StatusCode, Json<AttachmentAnswer>)> {
    let limit = ctx.config.max_upload;
    // Refuse a declared oversize body before reading any of it.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit + MULTIPART_SLACK) {
        return Err(too_large(limit));
    }
    // The file field is counted on its own; this bounds the whole body, so
    // other fields cannot stream on for ever either.
    let request = request.map(|body| {
        let cap = usize::try_from(limit + MULTIPART_SLACK).unwrap_or(usize::MAX);
        Body::new(http_body_util::Limited::new(body, cap))
    });
    let mut multipart = Multipart::from_request(request, &ctx).await.map_err(|_| {
        AppError::UnsupportedMedia("send the file as multipart/form-data, field 'file'".into())
    })?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(multipart_error(|| too_large(limit)))?
    {
        if field.name() == Some("file") {
            let attachment = attachments::upload(&ctx, &user, field).await?;
            return Ok((StatusCode::CREATED, Json(AttachmentAnswer { attachment })));
        }
    }
    Err(AppError::bad_request(
        "missing_file",
        "send the file in the multipart field 'file'",
    ))
}

/// The file, to its uploader and the members of its conversation; `Range`
/// requests get 206.
#[utoipa::path(get, path = "/attachments/{id}", tag = "messages",
    params(("id" = String, Path, description = "the id in an attachment's `url`")),
    responses(
        (status = 200, description = "the bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "the requested `Range`", body = Vec<u8>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown, not yours to see, or its message deleted", body = ErrorBody),
        (status = 416, description = "the `Range` lies outside the file"),
    ))]
pub async fn file(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
    request_headers: HeaderMap,
) -> AppResult<Response> {
    let row = attachments::visible(&ctx, &user, &id).await?;
    let size = row.size.max(0) as u64;
    let mut headers = served_headers(&row);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let range = request_headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size));
    let (status, start, end) = match range {
        None | Some(Range::Ignored) => (StatusCode::OK, 0, size),
        Some(Range::Unsatisfiable) => {
            headers.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response());
        }
        Some(Range::Bytes(start, end)) => {
            headers.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {start}-{}/{size}", end - 1)),
            );
            (StatusCode::PARTIAL_CONTENT, start, end)
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    let body = Body::from_stream(ctx.blobs.read(&row.id, start, end));
    Ok((status, headers, body).into_response())
}

/// The WebP preview of an image attachment, with the same access rule.
#[utoipa::path(get, path = "/attachments/{id}/thumb", tag = "messages",
    params(("id" = String, Path, description = "the id in an attachment's `thumbUrl`")),
    responses(
        (status = 200, description = "at most 320 × 320 pixels", content_type = "image/webp", body = Vec<u8>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`not_found`, also for a file that is not an image", body = ErrorBody),
    ))]
pub async fn thumb(
    State(ctx): State<Ctx>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let row = attachments::visible(&ctx, &user, &id).await?;
    let bytes = ctx
        .blobs
        .thumb(&row.id)
        .await
        .map_err(AppError::Internal)?
        .ok_or(AppError::NotFound("attachment"))?;
    let mut headers = served_headers(&row);
    headers.remove(header::CONTENT_DISPOSITION);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/webp"));
    Ok((headers, bytes).into_response())
}

/// Type, disposition and the protections every served attachment carries.
/// Private: a shared cache must not hand them to someone else.
fn served_headers(row: &AttachmentRow) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        ),
    );
    if row.content_type.starts_with("image/") {
        headers.insert(header::CONTENT_TYPE, header_value(&row.content_type));
        headers.insert(
            header::CONTENT_DISPOSITION,
            header_value(&disposition("inline", &row.name)),
        );
    } else {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
        headers.insert(
            header::CONTENT_DISPOSITION,
            header_value(&disposition("attachment", &row.name)),
        );
    }
    headers
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`
/// (RFC 6266): old clients get a safe ASCII name, all others the real one.
fn disposition(kind: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Serve the whole file: no single byte range we handle (several ranges,
    /// another unit, a malformed header).
    Ignored,
    Unsatisfiable,
    /// The half-open `start..end`.
    Bytes(u64, u64),
}

/// One `bytes=` range of RFC 9110: `a-b`, `a-` or `-n` (the last n bytes).
fn parse_range(value: &str, size: u64) -> Range {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Ignored;
    };
    if spec.contains(',') {
        return Range::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.is_empty(), last.is_empty()) {
        (true, false) => last.parse::<u64>().ok().map(|n| {
            if n == 0 {
                None
            } else {
                Some((size.saturating_sub(n), size))
            }
        }),
        (false, _) => first.parse::<u64>().ok().and_then(|start| {
            let end = if last.is_empty() {
                Some(size)
            } else {
                last.parse::<u64>()
                    .ok()
                    .map(|l| l.saturating_add(1).min(size))
            };
            end.map(|end| (start < size && start < end).then_some((start, end)))
        }),
        (true, true) => None,
    };
    match parsed {
        None => Range::Ignored,
        Some(None) => Range::Unsatisfiable,
        Some(Some((start, end))) => Range::Bytes(start, end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Range::Bytes(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), Range::Bytes(90, 100));
        assert_eq!(parse_range("bytes=-10", 100), Range::Bytes(90, 100));
        assert_eq!(parse_range("bytes=95-200", 100), Range::Bytes(95, 100));
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Range::Ignored);
        assert_eq!(parse_range("items=0-1", 100), Range::Ignored);
        assert_eq!(parse_range("bytes=x-1", 100), Range::Ignored);
    }

    #[test]
    fn a_download_name_is_safe_in_both_forms() {
        assert_eq!(
            disposition("attachment", "보고서 \"v2\".pdf"),
            "attachment; filename=\"___ _v2_.pdf\"; \
             filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C%20%22v2%22.pdf"
        );
    }
}
