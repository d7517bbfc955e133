//! The message writer: group commit for every change to a conversation.
//!
//! A send is acknowledged only after its transaction is durable, and with
//! `synchronous=FULL` every commit costs an fsync. Committing each send alone caps
//! throughput at the disk's fsync rate, so sends queue to a writer task that takes
//! everything waiting (up to `MAX_BATCH`), applies it in one transaction and answers
//! every sender after the single commit.
//!
//! Edits, deletes, reactions and group changes take the same path as sends, so
//! that `seq` and `rev` are assigned in the transaction of the change and every
//! change is announced in commit order ([`super::changes`], [`super::groups`]).
//!
//! Each conversation always goes to the same lane (by hash of its id), and a lane
//! hands committed messages to the notifier in commit order, so members see every
//! conversation in `seq` order. SQLite runs one lane (it has one writer anyway);
//! PostgreSQL runs several, since it commits independent rows in parallel.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use super::bulk_send;
use super::changes::{self, Edit};
use super::conversations::{Members, RAISE_READ_MARK};
use super::groups::{self, GroupChange};
use super::{Backend, Store, StoreError, StoreResult};
use crate::contract::Message;
use crate::domain::{
    AttachmentId, ClientId, ConversationId, MessageId, MessageText, UserId, now_ms,
};

const MAX_BATCH: usize = 512;
const QUEUE_DEPTH: usize = 4096;

/// An authorised send, ready to store: the service has checked that the sender
/// is one of `members` (a group's are checked again under the counter's lock)
/// and that `reply_to` is a seq of this conversation.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub conversation_id: ConversationId,
    pub members: Members,
    pub sender_id: UserId,
    /// The sender's username (it never changes): the stored message's `user`.
    pub sender_name: String,
    pub msg: MessageText,
    pub client_id: ClientId,
    pub reply_to: Option<i64>,
    /// Upload ids to attach (checked in the transaction: the sender's, unused).
    pub attachments: Vec<AttachmentId>,
}

/// A change to one conversation.
#[derive(Debug, Clone)]
pub enum Change {
    Send(SendRequest),
    /// An edit, delete or reaction of `user_id` on message `seq`.
    Edit {
        conversation_id: ConversationId,
        members: Members,
        seq: i64,
        user_id: UserId,
        edit: Edit,
    },
    Group(GroupChange),
}

impl Change {
    fn conversation_id(&self) -> &ConversationId {
        match self {
            Self::Send(send) => &send.conversation_id,
            Self::Edit {
                conversation_id, ..
            } => conversation_id,
            Self::Group(change) => change.conversation_id(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Sent {
    /// Stored by this request.
    New(Message),
    /// This sender had already sent this clientId: the stored message.
    Existing(Message),
}

/// What a change did.
#[derive(Debug, Clone)]
pub enum Applied {
    Sent(Sent),
    /// The changed message, and the replies whose quote changed with it.
    Updated {
        message: Message,
        replies: Vec<Message>,
    },
    /// Nothing to do (a reaction already there or already gone): the message.
    Unchanged(Message),
    /// A group change: its system message (none when nothing changed) and who
    /// joined or left.
    Group {
        message: Option<Message>,
        joined: Vec<UserId>,
        left: Vec<UserId>,
    },
}

/// Why a change was not applied; the services turn these into errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotFound(&'static str),
    NotSender,
    NotOwner,
    /// A deleted or system message cannot be edited or reacted to.
    NotEditable,
    NotAGroup,
    TooManyReactions,
    TooManyMembers,
    /// An attachment id that is not one of the sender's uploads.
    InvalidAttachment,
    /// An upload already attached to another message.
    AttachmentUsed,
    /// A direct chat between a pair where one blocks the other.
    Blocked,
}

pub type ChangeResult = StoreResult<Result<Applied, Refusal>>;

/// A stored change and who must hear of it.
#[derive(Debug, Clone)]
pub struct Committed {
    pub news: Vec<Announcement>,
    pub members: Members,
}

#[derive(Debug, Clone)]
pub enum Announcement {
    /// A new message (`message` event).
    New(Message),
    /// A changed message (`message:update` event).
    Updated(Message),
}

struct Job {
    change: Change,
    /// Chosen once, so that a retry can tell its own earlier commit (whose
    /// answer was lost) from a message stored by an earlier request.
    id: MessageId,
    reply: oneshot::Sender<ChangeResult>,
}

#[derive(Clone)]
pub struct MessageWriter {
    lanes: Vec<mpsc::Sender<Job>>,
}

impl MessageWriter {
    /// Starts the writer lanes; committed changes go to `committed`, in order.
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
    pub async fn send(&self, request: SendRequest) -> StoreResult<Result<Sent, Refusal>> {
        Ok(match self.apply(Change::Send(request)).await? {
            Ok(Applied::Sent(sent)) => Ok(sent),
            Ok(_) => unreachable!("a send is answered with Sent"),
            Err(refusal) => Err(refusal),
        })
    }

    /// Applies the change durably, in its conversation's lane.
    pub async fn apply(&self, change: Change) -> ChangeResult {
        let mut hasher = DefaultHasher::new();
        change.conversation_id().hash(&mut hasher);
        let lane = &self.lanes[hasher.finish() as usize % self.lanes.len()];
        let (reply, answer) = oneshot::channel();
        let id = MessageId::generate();
        lane.send(Job { change, id, reply })
            .await
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Unavailable(sqlx::Error::PoolClosed)
}

/// One job's result inside the transaction, with the members to announce to.
pub(crate) type Outcome = Result<(Applied, Members), Refusal>;

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
        let outcomes: Vec<StoreResult<Outcome>> = match committed_batch {
            Ok(done) => done.into_iter().map(Ok).collect(),
            // One bad change must not sink the others: retry each on its own.
            Err(batch_error) => {
                tracing::warn!(
                    "batch of {} changes failed, retrying singly: {batch_error}",
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
            let answer = outcome.map(|done| {
                done.map(|(applied, members)| {
                    announce(&committed, &applied, members);
                    applied
                })
            });
            let _ = job.reply.send(answer);
        }
    }
}

fn announce(committed: &mpsc::UnboundedSender<Committed>, applied: &Applied, members: Members) {
    let news = match applied {
        Applied::Sent(Sent::New(message)) => {
            metrics::counter!(crate::telemetry::MESSAGES_STORED).increment(1);
            vec![Announcement::New(message.clone())]
        }
        Applied::Updated { message, replies } => std::iter::once(message)
            .chain(replies)
            .cloned()
            .map(Announcement::Updated)
            .collect(),
        Applied::Group {
            message: Some(message),
            ..
        } => vec![Announcement::New(message.clone())],
        Applied::Sent(Sent::Existing(_)) | Applied::Unchanged(_) | Applied::Group { .. } => {
            return;
        }
    };
    let _ = committed.send(Committed { news, members });
}

/// A batch whose COMMIT reached the database but whose answer was lost is
/// retried job by job; each send then finds its own message already stored.
/// That message was never announced, so it counts as new (and gets its live
/// event), which its id, chosen before the first attempt, proves.
fn own_earlier_commit(job: &Job, outcome: Outcome) -> Outcome {
    match outcome {
        Ok((Applied::Sent(Sent::Existing(message)), members)) if message.id == job.id => {
            Ok((Applied::Sent(Sent::New(message)), members))
        }
        other => other,
    }
}

/// Applies the jobs in one transaction; an error means it failed as a whole.
/// (A refusal is an answer, not an error: the job changed nothing.)
async fn commit(store: &Store, jobs: &[Job]) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut tx = store.writer().begin().await?;
    let now = now_ms();
    let mut outcomes = Vec::with_capacity(jobs.len());
    // Sending implies having read everything up to one's own message; only the
    // highest seq per (conversation, sender) of the batch needs writing.
    let mut read_marks: HashMap<(&ConversationId, &UserId), i64> = HashMap::new();
    let mut rest = jobs;
    while !rest.is_empty() {
        // Consecutive plain sends go in together; anything else alone.
        let run: Vec<(&MessageId, &SendRequest)> = rest
            .iter()
            .map_while(|job| match &job.change {
                Change::Send(req) if bulk_send::is_plain(req) => Some((&job.id, req)),
                _ => None,
            })
            .collect();
        let (done, outcome) = if run.is_empty() {
            (1, vec![apply(&mut tx, &rest[0], now).await?])
        } else {
            (
                run.len(),
                bulk_send::send_all(&mut tx, store.backend, &run, now).await?,
            )
        };
        for (job, outcome) in rest[..done].iter().zip(outcome) {
            if let (Change::Send(req), Ok((Applied::Sent(Sent::New(message)), _))) =
                (&job.change, &outcome)
            {
                read_marks.insert((&req.conversation_id, &req.sender_id), message.seq);
            }
            outcomes.push(outcome);
        }
        rest = &rest[done..];
    }
    if !read_marks.is_empty() {
        // One statement for the batch: each statement is a round trip (on
        // SQLite, a hand-off to the connection's thread and back).
        let mut sql = String::from(
            "INSERT INTO read_marks (conversation_id, user_id, last_read_seq) VALUES ",
        );
        bulk_send::Params::new(store.backend).push_tuples(&mut sql, read_marks.len(), 3);
        sql.push_str(RAISE_READ_MARK);
        let mut upsert = sqlx::query(&sql);
        for ((conversation_id, sender_id), seq) in read_marks {
            upsert = upsert.bind(conversation_id).bind(sender_id).bind(seq);
        }
        upsert.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

async fn apply(conn: &mut AnyConnection, job: &Job, now: i64) -> Result<Outcome, sqlx::Error> {
    match &job.change {
        Change::Send(req) => changes::send(conn, &job.id, req, now).await,
        Change::Edit {
            conversation_id,
            members,
            seq,
            user_id,
            edit,
        } => changes::edit(conn, conversation_id, members, *seq, user_id, edit, now).await,
        Change::Group(change) => groups::apply(conn, &job.id, change, now).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_and_message() -> (Job, Message) {
        let (reply, _answer) = oneshot::channel();
        let sender = UserId::generate();
        let job = Job {
            change: Change::Send(SendRequest {
                conversation_id: ConversationId::lobby(),
                members: Members::Everyone,
                sender_id: sender.clone(),
                sender_name: "ann".into(),
                msg: MessageText::parse("hi".into()).unwrap(),
                client_id: ClientId::parse("c1".into()).unwrap(),
                reply_to: None,
                attachments: vec![],
            }),
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
            kind: crate::contract::MessageType::Text,
            system: None,
            reply_to: None,
            edited_at: None,
            deleted_at: None,
            reactions: vec![],
            attachments: vec![],
            rev: 1,
        };
        (job, message)
    }

    fn existing(message: Message) -> Applied {
        Applied::Sent(Sent::Existing(message))
    }

    #[test]
    fn a_retry_that_finds_its_own_lost_commit_announces_it() {
        let (job, message) = job_and_message();
        let sent = own_earlier_commit(&job, Ok((existing(message), Members::Everyone)));
        assert!(
            matches!(sent, Ok((Applied::Sent(Sent::New(_)), _))),
            "its live event goes out once"
        );
    }

    #[test]
    fn a_retry_that_finds_an_earlier_request_stays_existing() {
        let (job, mut message) = job_and_message();
        message.id = MessageId::generate();
        let sent = own_earlier_commit(&job, Ok((existing(message), Members::Everyone)));
        assert!(
            matches!(sent, Ok((Applied::Sent(Sent::Existing(_)), _))),
            "no second live event"
        );
    }
}
