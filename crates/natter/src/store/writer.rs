//! The message writer: group commit for sends.
//!
//! A send is acknowledged only after its transaction is durable, and with
//! `synchronous=FULL` every commit costs an fsync. Committing each send alone caps
//! throughput at the disk's fsync rate, so sends queue to a writer task that takes
//! everything waiting (up to `MAX_BATCH`), applies it in one transaction and answers
//! every sender after the single commit.
//!
//! Each conversation always goes to the same lane (by hash of its id), and a lane
//! hands committed messages to the notifier in commit order, so members see every
//! conversation in `seq` order. SQLite runs one lane (it has one writer anyway);
//! PostgreSQL runs several, since it commits independent rows in parallel.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use super::conversations::{Members, UPSERT_READ_MARK};
use super::messages::MESSAGE_COLUMNS;
use super::{Backend, Store, StoreError, StoreResult};
use crate::contract::Message;
use crate::domain::{ClientId, ConversationId, MessageId, MessageText, UserId, now_ms};

const MAX_BATCH: usize = 512;
const QUEUE_DEPTH: usize = 4096;

/// An authorised send, ready to store: the service has checked that the sender
/// is one of `members`.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub conversation_id: ConversationId,
    pub members: Members,
    pub sender_id: UserId,
    pub sender_username: String,
    pub msg: MessageText,
    pub client_id: ClientId,
}

#[derive(Debug, Clone)]
pub enum Sent {
    /// Stored by this request.
    New(Message),
    /// This sender had already sent this clientId: the stored message.
    Existing(Message),
}

/// A newly stored message and who must hear of it.
#[derive(Debug, Clone)]
pub struct Committed {
    pub message: Message,
    pub members: Members,
}

struct Job {
    request: SendRequest,
    /// Chosen once, so that a retry can tell its own earlier commit (whose
    /// answer was lost) from a message stored by an earlier request.
    id: MessageId,
    reply: oneshot::Sender<StoreResult<Sent>>,
}

#[derive(Clone)]
pub struct MessageWriter {
    lanes: Vec<mpsc::Sender<Job>>,
}

impl MessageWriter {
    /// Starts the writer lanes; committed messages go to `committed`, in order.
    pub fn spawn(store: Store, committed: mpsc::UnboundedSender<Committed>) -> Self {
        let lanes = match store.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        let lanes = (0..lanes)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                tokio::spawn(run_lane(store.clone(), rx, committed.clone()));
                tx
            })
            .collect();
        Self { lanes }
    }

    /// Stores the message durably (or finds the earlier one with its clientId).
    pub async fn send(&self, request: SendRequest) -> StoreResult<Sent> {
        let mut hasher = DefaultHasher::new();
        request.conversation_id.hash(&mut hasher);
        let lane = &self.lanes[hasher.finish() as usize % self.lanes.len()];
        let (reply, answer) = oneshot::channel();
        let id = MessageId::generate();
        lane.send(Job { request, id, reply })
            .await
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Unavailable(sqlx::Error::PoolClosed)
}

async fn run_lane(
    store: Store,
    mut queue: mpsc::Receiver<Job>,
    committed: mpsc::UnboundedSender<Committed>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics::histogram!(crate::telemetry::COMMIT_BATCH_SIZE).record(batch.len() as f64);
        let started = std::time::Instant::now();
        let committed_batch = commit(&store, &batch).await;
        metrics::histogram!(crate::telemetry::COMMIT_SECONDS)
            .record(started.elapsed().as_secs_f64());
        let outcomes: Vec<StoreResult<Sent>> = match committed_batch {
            Ok(sent) => sent.into_iter().map(Ok).collect(),
            // One bad send must not sink the others: retry each on its own.
            Err(batch_error) => {
                tracing::warn!(
                    "batch of {} sends failed, retrying singly: {batch_error}",
                    batch.len()
                );
                let mut outcomes = Vec::with_capacity(batch.len());
                for job in &batch {
                    outcomes.push(match commit(&store, std::slice::from_ref(job)).await {
                        Ok(mut one) => Ok(own_earlier_commit(job, one.remove(0))),
                        Err(e) => Err(e.into()),
                    });
                }
                outcomes
            }
        };
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            if let Ok(Sent::New(message)) = &outcome {
                metrics::counter!(crate::telemetry::MESSAGES_STORED).increment(1);
                let _ = committed.send(Committed {
                    message: message.clone(),
                    members: job.request.members.clone(),
                });
            }
            let _ = job.reply.send(outcome);
        }
    }
}

/// A batch whose COMMIT reached the database but whose answer was lost is
/// retried job by job; each then finds its own message already stored. That
/// message was never announced, so it counts as new (and gets its live event),
/// which its id, chosen before the first attempt, proves.
fn own_earlier_commit(job: &Job, sent: Sent) -> Sent {
    match sent {
        Sent::Existing(message) if message.id == job.id => Sent::New(message),
        other => other,
    }
}

/// Applies the jobs in one transaction; an error means it failed as a whole.
/// (The sends were authorised before they queued, so no job fails alone.)
async fn commit(store: &Store, jobs: &[Job]) -> Result<Vec<Sent>, sqlx::Error> {
    let mut tx = store.writer().begin().await?;
    let now = now_ms();
    let mut outcomes = Vec::with_capacity(jobs.len());
    // Sending implies having read everything up to one's own message; only the
    // highest seq per (conversation, sender) of the batch needs writing.
    let mut read_marks: HashMap<(&ConversationId, &UserId), i64> = HashMap::new();
    for job in jobs {
        let outcome = apply(&mut tx, job, now).await?;
        if let Sent::New(message) = &outcome {
            read_marks.insert(
                (&job.request.conversation_id, &job.request.sender_id),
                message.seq,
            );
        }
        outcomes.push(outcome);
    }
    for ((conversation_id, sender_id), seq) in read_marks {
        sqlx::query(UPSERT_READ_MARK)
            .bind(conversation_id)
            .bind(sender_id)
            .bind(seq)
            .fetch_one(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

static EXISTING_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id \
         WHERE m.sender_id = $1 AND m.client_id = $2"
    )
});

/// Two statements on the common path: take the next seq, insert. A retried
/// clientId hits the unique index instead; then the seq is given back (in the
/// same transaction, so no gap is ever visible) and the stored message returned.
async fn apply(conn: &mut AnyConnection, job: &Job, now: i64) -> Result<Sent, sqlx::Error> {
    let req = &job.request;
    let seq: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $2 WHERE id = $1 RETURNING last_seq",
    )
    .bind(&req.conversation_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let message = Message {
        id: job.id.clone(),
        conversation_id: req.conversation_id.clone(),
        seq,
        sender_id: req.sender_id.clone(),
        user: req.sender_username.clone(),
        msg: req.msg.as_str().to_owned(),
        client_id: req.client_id.as_str().to_owned(),
        created_at: now,
    };
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, seq, id, sender_id, msg, client_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING seq",
    )
    .bind(&message.conversation_id)
    .bind(seq)
    .bind(&message.id)
    .bind(&message.sender_id)
    .bind(&message.msg)
    .bind(&message.client_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(Sent::New(message));
    }
    sqlx::query("UPDATE conversations SET last_seq = last_seq - 1 WHERE id = $1")
        .bind(&req.conversation_id)
        .execute(&mut *conn)
        .await?;
    let existing: Message = sqlx::query_as(EXISTING_SQL.as_str())
        .bind(&req.sender_id)
        .bind(req.client_id.as_str())
        .fetch_one(&mut *conn)
        .await?;
    Ok(Sent::Existing(existing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_and_message() -> (Job, Message) {
        let (reply, _answer) = oneshot::channel();
        let sender = UserId::generate();
        let job = Job {
            request: SendRequest {
                conversation_id: ConversationId::lobby(),
                members: Members::Everyone,
                sender_id: sender.clone(),
                sender_username: "ann".into(),
                msg: MessageText::parse("hi".into()).unwrap(),
                client_id: ClientId::parse("c1".into()).unwrap(),
            },
            id: MessageId::generate(),
            reply,
        };
        let message = Message {
            id: job.id.clone(),
            conversation_id: ConversationId::lobby(),
            seq: 1,
            sender_id: sender,
            user: "ann".into(),
            msg: "hi".into(),
            client_id: "c1".into(),
            created_at: 0,
        };
        (job, message)
    }

    #[test]
    fn a_retry_that_finds_its_own_lost_commit_announces_it() {
        let (job, message) = job_and_message();
        let sent = own_earlier_commit(&job, Sent::Existing(message));
        assert!(matches!(sent, Sent::New(_)), "its live event goes out once");
    }

    #[test]
    fn a_retry_that_finds_an_earlier_request_stays_existing() {
        let (job, mut message) = job_and_message();
        message.id = MessageId::generate();
        let sent = own_earlier_commit(&job, Sent::Existing(message));
        assert!(matches!(sent, Sent::Existing(_)), "no second live event");
    }
}
