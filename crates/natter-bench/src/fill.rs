//! Bulk fills straight into a natter database (SQLite file or PostgreSQL), for
//! benchmarks that need more messages than the API sends in their time.
//!
//! The rows keep the send path's invariants: per conversation `seq` and `rev`
//! gapless and growing together, senders taking turns, unique
//! `(sender, clientId)`, `created_at` strictly increasing, and the
//! conversation's `last_seq`, `last_rev` and `last_activity_at` moved in the
//! same transaction. The search index is kept by natter's own triggers
//! (SQLite FTS5) and GIN index (PostgreSQL), so a filled database searches like
//! one filled through the API. It runs while the server runs: SQLite waits on
//! `BEGIN IMMEDIATE` (WAL readers go on), PostgreSQL locks the conversation row.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, Row};

/// One conversation to fill and the users who take turns sending into it.
#[derive(Clone, Debug)]
pub struct Target {
    pub conversation: String,
    pub senders: Vec<String>,
}

/// What the messages say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// Short English sentences numbered by seq (the history benchmark).
    History,
    /// Chat-like sentences of Korean and English words from a fixed vocabulary,
    /// random but reproducible, with a few rare words (the search benchmark).
    Chat,
}

/// Words the search benchmark asks for, with how they occur in [`Text::Chat`].
pub const RARE_KO: &str = "펭귄";
pub const RARE_EN: &str = "zeppelin";
/// Chance of each rare word per message.
const RARE_P: f64 = 0.0001;

const KO: &[&str] = &[
    "채팅방에서",
    "회의실",
    "오늘",
    "내일",
    "점심",
    "저녁",
    "회의",
    "프로젝트",
    "보고서",
    "일정",
    "확인",
    "부탁해요",
    "감사합니다",
    "주말에",
    "커피",
    "사진",
    "파일을",
    "공유해",
    "다음주",
    "월요일",
    "금요일",
    "발표",
    "자료",
    "수정했어요",
    "검토",
    "배포",
    "서버",
    "테스트",
    "버그",
    "고객",
    "연락",
    "전화",
    "메일",
    "시간",
    "장소",
    "약속",
    "여행",
    "영화",
    "음식",
    "날씨가",
    "좋아요",
    "괜찮아요",
    "알겠습니다",
    "채팅",
    "메시지",
    "답장",
    "친구",
    "가족",
    "생일",
    "선물",
];

const EN: &[&str] = &[
    "meeting", "tomorrow", "project", "report", "lunch", "coffee", "deploy", "server", "review",
    "draft", "please", "thanks", "weekend", "photo", "share", "schedule", "bug", "release",
    "customer", "call", "later", "today", "notes", "slides", "budget", "team", "update", "fixed",
    "build", "test", "office", "trip", "movie", "dinner", "weather", "great", "sure", "okay",
    "check", "send", "file", "link", "doc", "plan", "idea", "question", "answer", "issue", "merge",
    "branch",
];

const HIST_A: &[&str] = &[
    "ok, see you at",
    "did you read",
    "I think we should move",
    "can you send me",
    "just pushed",
    "any news about",
    "remind me about",
];
const HIST_B: &[&str] = &[
    "the meeting notes",
    "the new build of natter",
    "tomorrow at 10",
    "the report from last week",
    "my draft, comments welcome",
    "the numbers for the history run",
];

fn sentence(text: Text, seq: i64, rng: &mut StdRng) -> String {
    match text {
        Text::History => format!(
            "{} {} (#{seq})",
            HIST_A[(seq % 7) as usize],
            HIST_B[((seq / 7) % 6) as usize]
        ),
        Text::Chat => {
            let korean = rng.gen_bool(0.5);
            let words = rng.gen_range(3..10);
            let mut s = String::with_capacity(80);
            for i in 0..words {
                if i > 0 {
                    s.push(' ');
                }
                let list = if korean ^ (rng.gen_range(0..5) == 0) {
                    KO
                } else {
                    EN
                };
                s.push_str(list[rng.gen_range(0..list.len())]);
            }
            if rng.gen_bool(RARE_P) {
                s.push(' ');
                s.push_str(RARE_KO);
            }
            if rng.gen_bool(RARE_P) {
                s.push(' ');
                s.push_str(RARE_EN);
            }
            s
        }
    }
}

/// A message row about to be inserted.
struct NewMessage {
    seq: i64,
    rev: i64,
    id: String,
    sender: String,
    msg: String,
    client_id: String,
    created_at: i64,
}

/// Rows `last+1 ..= want` of one conversation, numbered from its current
/// `last_seq`/`last_rev`, timestamps after its last activity.
fn rows(
    t: &Target,
    text: Text,
    (last_seq, last_rev, base): (i64, i64, i64),
    want: i64,
    rng: &mut StdRng,
) -> Vec<NewMessage> {
    (last_seq + 1..=want)
        .map(|seq| {
            let n = seq - last_seq;
            NewMessage {
                seq,
                rev: last_rev + n,
                id: format!("{:032x}", rng.r#gen::<u128>()),
                sender: t.senders[((seq - 1) as usize) % t.senders.len()].clone(),
                msg: sentence(text, seq, rng),
                client_id: format!("bulk-{}-{seq}", t.conversation),
                created_at: base + n,
            }
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Fills every conversation in `targets` up to `per_conversation` messages
/// (those already holding as many are left alone); `db` is a `postgres://` URL
/// or a SQLite file path. Returns the rows inserted.
pub async fn fill(db: &str, targets: &[Target], per_conversation: i64, text: Text) -> Result<u64> {
    if targets.iter().any(|t| t.senders.is_empty()) {
        bail!("a conversation to fill needs at least one sender");
    }
    let t0 = Instant::now();
    let n = if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        fill_postgres(db, targets, per_conversation, text).await?
    } else {
        fill_sqlite(db, targets, per_conversation, text).await?
    };
    eprintln!(
        "fill: {n} rows in {} conversations in {:.1}s",
        targets.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(n)
}

/// Rows per SQLite INSERT statement (8 binds each, under SQLite's 32,766).
const SQLITE_ROWS_PER_STATEMENT: usize = 500;
/// Rows per SQLite transaction, so the server's writer is never held off long.
const SQLITE_ROWS_PER_TRANSACTION: i64 = 50_000;

async fn fill_sqlite(path: &str, targets: &[Target], want: i64, text: Text) -> Result<u64> {
    let path = path.strip_prefix("sqlite://").unwrap_or(path);
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(60));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .with_context(|| format!("opening {path}"))?;
    let mut rng = StdRng::seed_from_u64(0x6e61_7474);
    let mut inserted = 0u64;
    let mut conn = pool.acquire().await?;
    for t in targets {
        loop {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            let r = sqlx::query(
                "SELECT last_seq, last_rev, last_activity_at FROM conversations WHERE id = ?",
            )
            .bind(&t.conversation)
            .fetch_one(&mut *tx)
            .await
            .with_context(|| format!("conversation {}", t.conversation))?;
            let (last_seq, last_rev, act): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            if last_seq >= want {
                break;
            }
            let upto = want.min(last_seq + SQLITE_ROWS_PER_TRANSACTION);
            let base = now_ms().max(act);
            let batch = rows(t, text, (last_seq, last_rev, base), upto, &mut rng);
            for chunk in batch.chunks(SQLITE_ROWS_PER_STATEMENT) {
                let mut sql = String::from(
                    "INSERT INTO messages (conversation_id, seq, rev, id, sender_id, msg, client_id, created_at) VALUES ",
                );
                for i in 0..chunk.len() {
                    sql.push_str(if i == 0 {
                        "(?,?,?,?,?,?,?,?)"
                    } else {
                        ",(?,?,?,?,?,?,?,?)"
                    });
                }
                let mut q = sqlx::query(&sql);
                for row in chunk {
                    q = q
                        .bind(&t.conversation)
                        .bind(row.seq)
                        .bind(row.rev)
                        .bind(&row.id)
                        .bind(&row.sender)
                        .bind(&row.msg)
                        .bind(&row.client_id)
                        .bind(row.created_at);
                }
                q.execute(&mut *tx).await?;
            }
            let last = batch.last().expect("at least one row");
            sqlx::query(
                "UPDATE conversations SET last_seq = ?, last_rev = ?, last_activity_at = ? WHERE id = ?",
            )
            .bind(last.seq)
            .bind(last.rev)
            .bind(last.created_at)
            .bind(&t.conversation)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            inserted += batch.len() as u64;
            if inserted % 200_000 < batch.len() as u64 {
                eprintln!("fill: sqlite {inserted} rows");
            }
        }
    }
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(&mut *conn)
        .await?;
    Ok(inserted)
}

async fn fill_postgres(url: &str, targets: &[Target], want: i64, text: Text) -> Result<u64> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let mut rng = StdRng::seed_from_u64(0x6e61_7474);
    let mut inserted = 0u64;
    for t in targets {
        let mut tx = pool.begin().await?;
        let r = sqlx::query(
            "SELECT last_seq, last_rev, last_activity_at FROM conversations WHERE id = $1 FOR UPDATE",
        )
        .bind(&t.conversation)
        .fetch_one(&mut *tx)
        .await
        .with_context(|| format!("conversation {}", t.conversation))?;
        let (last_seq, last_rev, act): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
        if last_seq >= want {
            continue;
        }
        let batch = rows(
            t,
            text,
            (last_seq, last_rev, now_ms().max(act)),
            want,
            &mut rng,
        );
        // one statement per conversation: columns as arrays, unnested
        let col = |f: fn(&NewMessage) -> String| batch.iter().map(f).collect::<Vec<_>>();
        let num = |f: fn(&NewMessage) -> i64| batch.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO messages (conversation_id, seq, rev, id, sender_id, msg, client_id, created_at) \
             SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])",
        )
        .bind(&t.conversation)
        .bind(num(|r| r.seq))
        .bind(num(|r| r.rev))
        .bind(col(|r| r.id.clone()))
        .bind(col(|r| r.sender.clone()))
        .bind(col(|r| r.msg.clone()))
        .bind(col(|r| r.client_id.clone()))
        .bind(num(|r| r.created_at))
        .execute(&mut *tx)
        .await?;
        let last = batch.last().expect("at least one row");
        sqlx::query(
            "UPDATE conversations SET last_seq = $1, last_rev = $2, last_activity_at = $3 WHERE id = $4",
        )
        .bind(last.seq)
        .bind(last.rev)
        .bind(last.created_at)
        .bind(&t.conversation)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        inserted += batch.len() as u64;
        if inserted % 200_000 < batch.len() as u64 {
            eprintln!("fill: postgres {inserted} rows");
        }
    }
    // measure reads against settled tables, not fresh hint bits or a running autovacuum
    sqlx::query("VACUUM (ANALYZE) messages, conversations")
        .execute(&pool)
        .await?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_continue_seq_and_rev_and_take_turns() {
        let t = Target {
            conversation: "c".into(),
            senders: vec!["a".into(), "b".into()],
        };
        let mut rng = StdRng::seed_from_u64(1);
        let r = rows(&t, Text::Chat, (10, 14, 1000), 13, &mut rng);
        assert_eq!(r.iter().map(|r| r.seq).collect::<Vec<_>>(), [11, 12, 13]);
        assert_eq!(r.iter().map(|r| r.rev).collect::<Vec<_>>(), [15, 16, 17]);
        assert_eq!(
            r.iter().map(|r| r.created_at).collect::<Vec<_>>(),
            [1001, 1002, 1003]
        );
        assert_eq!(r[0].sender, "a");
        assert_eq!(r[1].sender, "b");
        assert!(
            r.iter()
                .all(|r| !r.msg.is_empty() && r.msg.chars().count() <= 4000)
        );
    }
}
