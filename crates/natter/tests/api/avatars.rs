//! Profile pictures: upload in every accepted format, re-encoding (square, sized,
//! metadata gone), refusal of non-images, oversize bodies and decompression
//! bombs, versioned URLs with long-lived caching, removal, and the `user` event.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage};
use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::helpers::{TestApp, TestUser};

pub(crate) fn picture(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

async fn upload(
    app: &TestApp,
    user: &TestUser,
    bytes: Vec<u8>,
    file_name: &str,
) -> (StatusCode, Value) {
    // A fresh client per upload: the server closes a connection whose body it refused unread.
    let client = reqwest::Client::new();
    let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned());
    let form = reqwest::multipart::Form::new().part("avatar", part);
    let response = client
        .put(format!("{}/api/me/avatar", app.base))
        .bearer_auth(&user.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    app.http()
        .get(format!("{}{url}", app.base))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_format_is_reencoded_to_a_square() {
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    for (format, name) in [
        (ImageFormat::Png, "a.png"),
        (ImageFormat::Jpeg, "a.jpg"),
        (ImageFormat::WebP, "a.webp"),
        (ImageFormat::Gif, "a.gif"),
    ] {
        let (status, body) = upload(&app, &alice, picture(format, 300, 200), name).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let url = body["user"]["avatarUrl"]
            .as_str()
            .expect("an avatar URL")
            .to_owned();
        let response = fetch(&app, &url).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_TYPE], "image/webp");
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(headers.contains_key(header::ETAG));
        let served = image::load_from_memory(&response.bytes().await.unwrap())
            .expect("served image decodes");
        assert_eq!(
            (served.width(), served.height()),
            (256, 256),
            "{name}: square, 256 px"
        );
        let small = fetch(&app, &format!("{url}?size=64")).await;
        let small = image::load_from_memory(&small.bytes().await.unwrap()).unwrap();
        assert_eq!((small.width(), small.height()), (64, 64));
    }
}

/// A JPEG with an APP1 segment carrying EXIF GPS data and a marker string.
fn jpeg_with_gps() -> Vec<u8> {
    let jpeg = picture(ImageFormat::Jpeg, 64, 64);
    let mut exif =
        b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x88\x25\0\x04\0\0\0\x01\0\0\0\x1a\0\0\0\0".to_vec();
    exif.extend_from_slice(b"GPS 37.5665N 126.9780E SECRET-LOCATION");
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[tokio::test]
async fn metadata_is_stripped() {
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    let original = jpeg_with_gps();
    assert!(
        image::load_from_memory(&original).is_ok(),
        "the test JPEG itself is valid"
    );
    let (status, body) = upload(&app, &alice, original, "holiday.jpg").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["user"]["avatarUrl"].as_str().unwrap();
    for variant in [url.to_owned(), format!("{url}?size=64")] {
        let bytes = fetch(&app, &variant).await.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("SECRET-LOCATION") && !text.contains("Exif"),
            "no EXIF in {variant}"
        );
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    chunk
}

/// A tiny PNG whose header claims 50,000 × 50,000 pixels (a decompression bomb's shape).
pub(crate) fn png_bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = 50_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

#[tokio::test]
async fn bad_uploads_are_refused() {
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    let (status, body) = upload(
        &app,
        &alice,
        b"just some text, not a picture".to_vec(),
        "photo.png",
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let mut truncated = picture(ImageFormat::Png, 100, 100);
    truncated.truncate(60);
    let (status, body) = upload(&app, &alice, truncated, "cut.png").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let started = std::time::Instant::now();
    let (status, body) = upload(&app, &alice, png_bomb(), "bomb.png").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "image_too_large");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refused without decoding"
    );

    let (status, body) = upload(&app, &alice, vec![0u8; 6 * 1024 * 1024], "big.png").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");

    let response = app
        .http()
        .put(format!("{}/api/me/avatar", app.base))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"avatar": "data:image/png;base64,AAAA"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "not multipart"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_media_type");

    let form = reqwest::multipart::Form::new().text("other", "x");
    let response = app
        .http()
        .put(format!("{}/api/me/avatar", app.base))
        .bearer_auth(&alice.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "no 'avatar' field"
    );
    let (_, me) = app.get("/api/me", &alice.token).await;
    assert_eq!(me["user"]["avatarUrl"], Value::Null, "nothing was stored");
}

#[tokio::test]
async fn replacing_and_removing_change_the_url() {
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let bob_socket = app.socket(&bob.token).await;
    bob_socket.subscribe(&[&alice.id]).await;
    let (_, first) = upload(&app, &alice, picture(ImageFormat::Png, 80, 80), "1.png").await;
    let first_url = first["user"]["avatarUrl"].as_str().unwrap().to_owned();
    let event = bob_socket.next("user").await;
    assert_eq!(
        event["avatarUrl"],
        first_url.as_str(),
        "others hear of the new picture"
    );
    let etag = fetch(&app, &first_url).await.headers()[header::ETAG].clone();
    let revalidated = app
        .http()
        .get(format!("{}{first_url}", app.base))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    let (_, second) = upload(&app, &alice, picture(ImageFormat::Jpeg, 90, 120), "2.jpg").await;
    let second_url = second["user"]["avatarUrl"].as_str().unwrap().to_owned();
    assert_ne!(first_url, second_url, "a new picture gets a new URL");
    assert_eq!(
        fetch(&app, &first_url).await.status(),
        StatusCode::NOT_FOUND,
        "the old one is gone"
    );
    assert_eq!(fetch(&app, &second_url).await.status(), StatusCode::OK);
    let (_, listed) = app
        .get(&format!("/api/users/{}", alice.id), &bob.token)
        .await;
    assert_eq!(listed["user"]["avatarUrl"], second_url.as_str());

    let response = app
        .http()
        .delete(format!("{}/api/me/avatar", app.base))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["avatarUrl"], Value::Null);
    assert_eq!(
        fetch(&app, &second_url).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&app, "/api/avatars/unknown").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn avatars_work_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let alice = app.register("alice").await;
    let (status, body) = upload(&app, &alice, picture(ImageFormat::Png, 120, 90), "p.png").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = fetch(&app, body["user"]["avatarUrl"].as_str().unwrap()).await;
    let served = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((served.width(), served.height()), (256, 256));
}
