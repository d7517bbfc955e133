//! Attachments: upload, attach to a send (HTTP and Socket.IO), fetch as the
//! uploader and as a member, 404 for others and after a delete (bytes gone),
//! how files are served (images, downloads, ranges), refused uploads and sends,
//! the sweep of unused uploads, and a 25 MiB upload streamed end to end.

use image::ImageFormat;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::avatars::{picture, png_bomb};
use crate::helpers::{TestApp, TestUser, on_both_backends};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn upload_part(
    app: &TestApp,
    user: &TestUser,
    part: reqwest::multipart::Part,
) -> (StatusCode, Value) {
    // A fresh client per upload: the server may close a connection whose body it refused.
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = reqwest::Client::new()
        .post(format!("{}/api/uploads", app.base))
        .bearer_auth(&user.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn upload(app: &TestApp, user: &TestUser, bytes: Vec<u8>, name: &str) -> (StatusCode, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    upload_part(app, user, part).await
}

/// Uploads and answers the attachment object.
async fn uploaded(app: &TestApp, user: &TestUser, bytes: Vec<u8>, name: &str) -> Value {
    let (status, body) = upload(app, user, bytes, name).await;
    assert_eq!(status, StatusCode::CREATED, "upload {name}: {body}");
    body["attachment"].clone()
}

async fn send_with(
    app: &TestApp,
    user: &TestUser,
    conversation: &str,
    msg: &str,
    ids: &[&Value],
    client_id: &str,
) -> (StatusCode, Value) {
    let body = json!({ "msg": msg, "clientId": client_id, "attachments": ids });
    app.post(
        &format!("/api/conversations/{conversation}/messages"),
        &user.token,
        body,
    )
    .await
}

async fn fetch(app: &TestApp, url: &Value, token: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http()
        .get(format!("{}{}", app.base, url.as_str().expect("a URL")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn status_of(app: &TestApp, url: &Value, user: &TestUser) -> StatusCode {
    fetch(app, url, Some(&user.token)).await.status()
}

async fn upload_attach_fetch_delete(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let id = app.direct(&alice, &bob).await;
    let photo = picture(ImageFormat::Png, 800, 400);
    let attachment = uploaded(&app, &alice, photo.clone(), "사진.png").await;
    assert_eq!(attachment["name"], "사진.png");
    assert_eq!(attachment["contentType"], "image/png");
    assert_eq!(attachment["size"], photo.len());
    assert_eq!(
        (attachment["width"].clone(), attachment["height"].clone()),
        (json!(800), json!(400))
    );
    let (url, thumb) = (&attachment["url"], &attachment["thumbUrl"]);
    assert_eq!(
        attachment["id"].as_str().unwrap().len(),
        32,
        "128 random bits"
    );

    // Before it is sent, only the uploader sees it.
    assert_eq!(status_of(&app, url, &alice).await, StatusCode::OK);
    assert_eq!(status_of(&app, url, &bob).await, StatusCode::NOT_FOUND);
    assert_eq!(
        fetch(&app, url, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // bob cannot send alice's upload.
    let (status, body) = send_with(&app, &bob, &id, "", &[&attachment["id"]], "b1").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_attachment")
    );

    // Sent over Socket.IO with no text: bob's socket gets it with the attachment.
    let bob_socket = app.socket(&bob.token).await;
    let alice_socket = app.socket(&alice.token).await;
    let ack = alice_socket
        .emit_ack(
            "message:send",
            json!({ "conversationId": id, "msg": "", "clientId": "a1", "attachments": [attachment["id"]] }),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["message"]["msg"], "");
    assert_eq!(ack["message"]["attachments"], json!([attachment]));
    let live = bob_socket.next("message").await;
    assert_eq!(live["attachments"], json!([attachment]));
    let seq = live["seq"].as_i64().unwrap();

    // A retry of the same send is the same message, not a conflict.
    let (status, body) = send_with(&app, &alice, &id, "", &[&attachment["id"]], "a1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["seq"], seq);
    // Another message may not take it.
    let (status, body) = send_with(&app, &alice, &id, "again", &[&attachment["id"]], "a2").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "attachment_used")
    );

    // Members fetch it; everyone else gets 404.
    let response = fetch(&app, url, Some(&bob.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert_eq!(response.bytes().await.unwrap(), photo);
    let response = fetch(&app, thumb, Some(&bob.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/webp");
    let preview = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((preview.width(), preview.height()), (320, 160));
    assert_eq!(status_of(&app, url, &carol).await, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&app, thumb, &carol).await, StatusCode::NOT_FOUND);

    // In history pages.
    let (_, page) = app
        .get(&format!("/api/conversations/{id}/messages"), &bob.token)
        .await;
    let listed = page["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(listed["attachments"], json!([attachment]));
    // Messages without attachments carry an empty list.
    let plain = app.send(&bob, &id, "nice", "b2").await;
    assert_eq!(plain["attachments"], json!([]));

    // Delete: the tombstone has none, and the URLs answer 404 to everyone.
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/conversations/{id}/messages/{seq}"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["attachments"], json!([]));
    let update = bob_socket.next("message:update").await;
    assert_eq!(update["attachments"], json!([]));
    for user in [&alice, &bob] {
        assert_eq!(status_of(&app, url, user).await, StatusCode::NOT_FOUND);
        assert_eq!(status_of(&app, thumb, user).await, StatusCode::NOT_FOUND);
    }
    let (_, page) = app
        .get(
            &format!("/api/conversations/{id}/messages?sinceRev=0"),
            &bob.token,
        )
        .await;
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["attachments"] == json!([]))
    );
    // On SQLite the bytes were files: none is left.
    if let Ok(entries) = std::fs::read_dir(app.data_dir().join("attachments")) {
        let files: Vec<_> = entries.flatten().filter(|e| e.path().is_file()).collect();
        assert!(files.is_empty(), "bytes left behind: {files:?}");
    }
}

async fn files_are_served_as_downloads(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    let html = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let attachment = uploaded(&app, &alice, html.clone(), "보고서 \"1\".html").await;
    assert_eq!(attachment["contentType"], "application/octet-stream");
    assert_eq!(attachment["thumbUrl"], Value::Null);
    assert_eq!(attachment["width"], Value::Null);
    let (status, _) = send_with(&app, &alice, &id, "see this", &[&attachment["id"]], "a1").await;
    assert_eq!(status, StatusCode::CREATED);
    let response = fetch(&app, &attachment["url"], Some(&bob.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"___ _1_.html\"; \
         filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C%20%221%22.html"
    );
    assert_eq!(response.bytes().await.unwrap(), html);
    assert_eq!(
        fetch(
            &app,
            &json!(format!("{}/thumb", attachment["url"].as_str().unwrap())),
            Some(&bob.token)
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
}

async fn ranges(app: TestApp) {
    let alice = app.register("alice").await;
    // Over two database chunks of 1 MiB, with a position-dependent pattern.
    let bytes: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    let attachment = uploaded(&app, &alice, bytes.clone(), "data.bin").await;
    let url = format!("{}{}", app.base, attachment["url"].as_str().unwrap());
    for (range, start, end) in [
        ("bytes=1048570-1048585", 1_048_570, 1_048_586),
        ("bytes=2499990-", 2_499_990, 2_500_000),
        ("bytes=-5", 2_499_995, 2_500_000),
    ] {
        let response = app
            .http()
            .get(&url)
            .bearer_auth(&alice.token)
            .header(header::RANGE, range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()[header::CONTENT_RANGE],
            format!("bytes {start}-{}/2500000", end - 1)
        );
        assert_eq!(
            response.bytes().await.unwrap(),
            bytes[start..end],
            "{range}"
        );
    }
    let response = app
        .http()
        .get(&url)
        .bearer_auth(&alice.token)
        .header(header::RANGE, "bytes=2500000-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes */2500000");
    let whole = app
        .http()
        .get(&url)
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.headers()[header::ACCEPT_RANGES], "bytes");
    assert_eq!(whole.bytes().await.unwrap(), bytes);
}

on_both_backends!(
    upload_attach_fetch_delete,
    files_are_served_as_downloads,
    ranges
);

#[tokio::test]
async fn bad_uploads_and_sends_are_refused() {
    let app = TestApp::sqlite_with(|config| config.max_upload = 1024 * 1024).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;

    let (status, body) = upload(&app, &alice, Vec::new(), "empty.txt").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "empty_file")
    );
    let (status, body) = upload(&app, &alice, png_bomb(), "bomb.png").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "image_too_large")
    );
    // Over the limit: a 413 in the contract's shape, which a browser can read.
    let (status, body) = upload(&app, &alice, vec![7; 1024 * 1024 + 1], "big.bin").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{body}"
    );
    assert_eq!(
        body["error"]["limitBytes"],
        1024 * 1024,
        "the limit, to show"
    );
    // Exactly the limit is fine.
    uploaded(&app, &alice, vec![7; 1024 * 1024], "just.bin").await;
    let form = reqwest::multipart::Form::new().text("other", "x");
    let response = reqwest::Client::new()
        .post(format!("{}/api/uploads", app.base))
        .bearer_auth(&alice.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "missing_file");

    let ids: Vec<Value> = (0..11).map(|i| json!(format!("{i:032x}"))).collect();
    let refs: Vec<&Value> = ids.iter().collect();
    let (status, body) = send_with(&app, &alice, &id, "x", &refs, "a1").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "too_many_attachments")
    );
    let (status, body) = send_with(&app, &alice, &id, "x", &[&json!("0".repeat(32))], "a2").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_attachment")
    );
    // Without attachments the text may still not be empty.
    let (status, body) = send_with(&app, &alice, &id, " ", &[], "a3").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_message")
    );
    // A refused send used no seq.
    let sent = app.send(&alice, &id, "first", "a4").await;
    assert_eq!(sent["seq"], 1);
}

async fn sweep(app: TestApp) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.direct(&alice, &bob).await;
    let unused = uploaded(&app, &alice, b"draft".to_vec(), "draft.txt").await;
    let sent = uploaded(&app, &alice, b"kept".to_vec(), "kept.txt").await;
    let (status, _) = send_with(&app, &alice, &id, "", &[&sent["id"]], "a1").await;
    assert_eq!(status, StatusCode::CREATED);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while status_of(&app, &unused["url"], &alice).await == StatusCode::OK {
        assert!(
            std::time::Instant::now() < deadline,
            "the unused upload was never swept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        status_of(&app, &unused["url"], &alice).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(status_of(&app, &sent["url"], &bob).await, StatusCode::OK);
    let (status, body) = send_with(&app, &alice, &id, "", &[&unused["id"]], "a2").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_attachment")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_uploads_are_swept_on_sqlite() {
    sweep(TestApp::sqlite_with(|config| config.upload_ttl_secs = 3).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_uploads_are_swept_on_postgres() {
    if let Some(app) = TestApp::postgres_with(|config| config.upload_ttl_secs = 3).await {
        sweep(app).await;
    }
}

/// 25 MiB, the default limit. The server writes each piece of the body to
/// its file as it arrives (`services::attachments::receive`, never collecting
/// the file in memory) and answers a range from the stored file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_25_mib_upload_streams_through() {
    const SIZE: usize = 25 * 1024 * 1024;
    const PIECE: usize = 64 * 1024;
    let app = TestApp::sqlite().await;
    let alice = app.register("alice").await;
    let bytes: Vec<u8> = (0..SIZE / PIECE)
        .flat_map(|i| vec![(i % 256) as u8; PIECE])
        .collect();
    let part = reqwest::multipart::Part::bytes(bytes).file_name("big.bin");
    let (status, body) = upload_part(&app, &alice, part).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["attachment"]["size"], SIZE);
    let response = app
        .http()
        .get(format!(
            "{}{}",
            app.base,
            body["attachment"]["url"].as_str().unwrap()
        ))
        .bearer_auth(&alice.token)
        .header(header::RANGE, "bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let last = ((SIZE / PIECE - 1) % 256) as u8;
    assert_eq!(response.bytes().await.unwrap().to_vec(), vec![last; 3]);
    let (status, body) = upload(&app, &alice, vec![1; SIZE + 1], "over.bin").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}
