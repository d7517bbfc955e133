//! The HTTP half of the natter contract, as far as the benchmarks need it.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub password: String,
    pub token: String,
}

/// Refuses anything but 127.0.0.1: this tool only ever loads the local machine.
pub fn check_local(base: &str) -> Result<()> {
    let u = reqwest::Url::parse(base).context("bad --url")?;
    if u.scheme() != "http" {
        bail!("--url must be http://127.0.0.1:PORT");
    }
    match u.host_str() {
        Some("127.0.0.1") => Ok(()),
        other => bail!("refusing to target {other:?}: only 127.0.0.1 is allowed"),
    }
}

impl Api {
    pub fn new(base: &str, pool: usize) -> Result<Self> {
        check_local(base)?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(pool.max(1))
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Api {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn json_or_err(resp: reqwest::Response, what: &str) -> Result<Value> {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!(
                "{what}: HTTP {status}: {}",
                body.chars().take(200).collect::<String>()
            );
        }
        serde_json::from_str(&body).with_context(|| format!("{what}: bad JSON"))
    }

    pub async fn healthy(&self) -> bool {
        // /healthz is natter's; the peer has none, so any HTTP answer counts as up.
        self.http.get(self.url("/healthz")).send().await.is_ok()
    }

    pub async fn register(&self, username: &str, password: &str) -> Result<User> {
        let resp = self
            .http
            .post(self.url("/api/auth/register"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await?;
        let v = Self::json_or_err(resp, "register").await?;
        Self::user_of(&v, password)
    }

    fn user_of(v: &Value, password: &str) -> Result<User> {
        let id = v["user"]["id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| v["user"]["id"].as_i64().map(|n| n.to_string()));
        Ok(User {
            id: id.ok_or_else(|| anyhow!("no user.id in {v}"))?,
            username: v["user"]["username"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            password: password.to_owned(),
            token: v["token"]
                .as_str()
                .ok_or_else(|| anyhow!("no token"))?
                .to_owned(),
        })
    }

    /// One sign-in; Ok(token) or Err with the status.
    pub async fn login(&self, username: &str, password: &str) -> Result<User> {
        let resp = self
            .http
            .post(self.url("/api/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await?;
        let v = Self::json_or_err(resp, "login").await?;
        Self::user_of(&v, password)
    }

    /// Creates (or finds) the direct conversation of `me` with `other_id`.
    pub async fn direct(&self, me: &User, other_id: &str) -> Result<String> {
        let resp = self
            .http
            .post(self.url("/api/conversations"))
            .bearer_auth(&me.token)
            .json(&json!({"userId": other_id}))
            .send()
            .await?;
        let v = Self::json_or_err(resp, "create conversation").await?;
        v["conversation"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no conversation.id in {v}"))
    }

    pub async fn post_message(
        &self,
        me: &User,
        conv: &str,
        msg: &str,
        client_id: &str,
    ) -> Result<Value> {
        let resp = self
            .http
            .post(self.url(&format!("/api/conversations/{conv}/messages")))
            .bearer_auth(&me.token)
            .json(&json!({"msg": msg, "clientId": client_id}))
            .send()
            .await?;
        Self::json_or_err(resp, "post message").await
    }

    /// GET .../messages with the given query; returns (status, body).
    pub async fn messages(&self, me: &User, conv: &str, query: &str) -> Result<(u16, Value)> {
        let (status, body) = self.messages_raw(me, conv, query).await?;
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((status, v))
    }

    async fn messages_raw(&self, me: &User, conv: &str, query: &str) -> Result<(u16, Bytes)> {
        let resp = self
            .http
            .get(self.url(&format!("/api/conversations/{conv}/messages?{query}")))
            .bearer_auth(&me.token)
            .send()
            .await?;
        Ok((resp.status().as_u16(), resp.bytes().await?))
    }

    /// GET .../messages for a load run: the seqs of the page only, parsed without
    /// building a JSON tree (the whole answer is still read and must be valid JSON),
    /// so the tool's own core stays far from full (about a third at natter's rate) and
    /// the pages/s are the server's.
    pub async fn page_seqs(&self, me: &User, conv: &str, query: &str) -> Result<PageSeqs> {
        let (status, body) = self.messages_raw(me, conv, query).await?;
        if status != 200 {
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        #[derive(Deserialize)]
        struct Seq {
            seq: u64,
        }
        #[derive(Deserialize)]
        struct Page {
            messages: Vec<Seq>,
        }
        let page: Page = serde_json::from_slice(&body).context("history page")?;
        Ok(PageSeqs {
            count: page.messages.len() as u64,
            first: page.messages.first().map(|m| m.seq),
            last: page.messages.last().map(|m| m.seq),
        })
    }
}

/// What a load run checks of a history page.
pub struct PageSeqs {
    pub count: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
}

impl Api {
    /// Any JSON call: (status, body; `null` when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        me: &User,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&me.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// Creates a group of `me` and `others`; returns its id.
    pub async fn group(&self, me: &User, title: &str, others: &[String]) -> Result<String> {
        let body = json!({"kind": "group", "title": title, "userIds": others});
        let (st, v) = self
            .call(reqwest::Method::POST, me, "/api/conversations", Some(&body))
            .await?;
        if st != 201 {
            bail!("create group: HTTP {st}: {v}");
        }
        v["conversation"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no conversation.id in {v}"))
    }

    /// `POST /api/uploads` of one file as `multipart/form-data`; returns the
    /// attachment object.
    pub async fn upload(&self, me: &User, name: &str, bytes: bytes::Bytes) -> Result<Value> {
        let boundary = "natterbenchboundary7MA4YWxkTrZu0gW";
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let mut body = Vec::with_capacity(head.len() + bytes.len() + tail.len());
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(&bytes);
        body.extend_from_slice(tail.as_bytes());
        let resp = self
            .http
            .post(self.url("/api/uploads"))
            .bearer_auth(&me.token)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await?;
        let v = Self::json_or_err(resp, "upload").await?;
        Ok(v["attachment"].clone())
    }

    /// GETs `path` and returns how many body bytes arrived.
    pub async fn download(&self, me: &User, path: &str) -> Result<u64> {
        use futures_util::StreamExt;
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(&me.token)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("GET {path}: HTTP {}", resp.status());
        }
        let mut n = 0u64;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            n += chunk?.len() as u64;
        }
        Ok(n)
    }
}

/// Registers `n` users named `<prefix><i>` with at most `conc` requests in flight.
pub async fn register_many(api: &Api, prefix: &str, n: usize, conc: usize) -> Result<Vec<User>> {
    use futures_util::StreamExt;
    let password = "bench-password-123";
    let results: Vec<Result<User>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            let name = format!("{prefix}{i}");
            async move { api.register(&name, password).await }
        })
        .buffered(conc.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

/// `s` for a URL path segment or query value: unreserved ASCII as is, every
/// other byte (UTF-8 of Korean text, emoji, `&`, `/`) as `%XX`.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A short run id usable in usernames (a-z0-9): base36 of the current time in ms.
pub fn run_id() -> String {
    let mut n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut s = Vec::new();
    while n > 0 {
        s.push(digits[(n % 36) as usize]);
        n /= 36;
    }
    s.reverse();
    String::from_utf8(s).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_localhost() {
        assert!(check_local("http://127.0.0.1:3000").is_ok());
        assert!(check_local("http://example.com:3000").is_err());
        assert!(check_local("http://10.0.0.1").is_err());
        assert!(check_local("https://127.0.0.1").is_err());
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_bytes() {
        assert_eq!(percent_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(percent_encode("채 &"), "%EC%B1%84%20%26");
        assert_eq!(percent_encode("👍"), "%F0%9F%91%8D");
    }

    #[test]
    fn run_ids_are_valid_username_parts() {
        let r = run_id();
        assert!(!r.is_empty() && r.len() <= 10);
        assert!(
            r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }
}
