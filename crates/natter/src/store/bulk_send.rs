//! Plain sends in bulk. A run of consecutive sends of a writer batch that carry
//! text only (no reply, no attachments) to a direct conversation or the lobby
//! is stored with four statements, however long the run: the clientIds already
//! used, the blocks between the pairs, the counters of every conversation of
//! the run, and one multi-row insert. One by one a send takes three (take the
//! numbers, insert, read back), and each statement is a round trip: on SQLite
//! a hand-off to the connection's thread and back, which on a busy core costs
//! more than the statement itself.
//!
//! The outcome is exactly that of [`super::changes::send`] applied to each job
//! in order: the same seqs and revs (a conversation's counters move by its
//! number of new messages, handed out in job order), the same answer for a
//! clientId already used (also by an earlier job of the same run) and for a
//! blocked pair. Groups keep the one-by-one path, which reads the members
//! under the counter's lock.
//!
//! The clientId and block checks (and the writer's read marks) are written
//! with placeholders only, so their text depends on the run's length alone and
//! they stay prepared in the connection's statement cache: at a light load the
//! same few shapes come back batch after batch. The counters' update and the
//! insert write the run's own integers into their text, which never repeats,
//! so they are not cached (`persistent(false)`): kept, they would only push the
//! reusable statements out of the cache (and on PostgreSQL each one would be a
//! named statement on the server until evicted).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use sqlx::AnyConnection;

use super::Backend;
use super::conversations::Members;
use super::messages::message_at;
use super::writer::{Applied, Outcome, Refusal, SendRequest, Sent};
use crate::contract::{Message, MessageType};
use crate::domain::{ConversationId, MessageId, UserId};

/// Placeholders for a statement with many parameters, in the order they are
/// bound: `$1, $2, …` on PostgreSQL, plain `?` on SQLite, whose parser and
/// binder look each numbered name up in a list (quadratic: a 500-row insert
/// spent most of its time there).
pub(crate) struct Params {
    backend: Backend,
    bound: usize,
}

impl Params {
    pub(crate) fn new(backend: Backend) -> Self {
        Self { backend, bound: 0 }
    }

    /// The next parameter's placeholder.
    pub(crate) fn next(&mut self) -> Placeholder {
        self.bound += 1;
        Placeholder(match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(self.bound),
        })
    }

    /// Appends `rows` tuples of `width` placeholders each, for a `VALUES`
    /// list: `(?, ?), (?, ?)`.
    pub(crate) fn push_tuples(&mut self, sql: &mut String, rows: usize, width: usize) {
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..width {
                let _ = write!(
                    sql,
                    "{}{}",
                    if column == 0 { "" } else { ", " },
                    self.next()
                );
            }
            sql.push(')');
        }
    }
}

/// `?` or `$n`.
pub(crate) struct Placeholder(Option<usize>);

impl std::fmt::Display for Placeholder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("?"),
            Some(n) => write!(f, "${n}"),
        }
    }
}

/// Whether the send can go in a run.
pub(crate) fn is_plain(req: &SendRequest) -> bool {
    req.reply_to.is_none()
        && req.attachments.is_empty()
        && !matches!(req.members, Members::Group(_))
}

/// Stores the plain sends `jobs` (each with the id chosen for it), in order.
pub(crate) async fn send_all(
    conn: &mut AnyConnection,
    backend: Backend,
    jobs: &[(&MessageId, &SendRequest)],
    now: i64,
) -> Result<Vec<Outcome>, sqlx::Error> {
    let used = used_client_ids(conn, backend, jobs).await?;
    let blocked = blocked_pairs(conn, backend, jobs).await?;

    // Which jobs store a new message; the others repeat a clientId or are refused.
    enum Plan {
        New,
        Existing(ConversationId, i64),
        SameAs(usize),
        Blocked,
    }
    let mut first_use: HashMap<(&UserId, &str), usize> = HashMap::new();
    let mut counts: Vec<(&ConversationId, i64)> = Vec::new();
    let plans: Vec<Plan> = jobs
        .iter()
        .enumerate()
        .map(|(i, (_, req))| {
            let key = (&req.sender_id, req.client_id.as_str());
            if let Some((conversation_id, seq)) = used.get(&key) {
                return Plan::Existing(conversation_id.clone(), *seq);
            }
            if let Some(&first) = first_use.get(&key) {
                return Plan::SameAs(first);
            }
            first_use.insert(key, i);
            if let Members::Pair(a, b) = &req.members
                && (blocked.contains(&(a, b)) || blocked.contains(&(b, a)))
            {
                return Plan::Blocked;
            }
            match counts.iter_mut().find(|(c, _)| *c == &req.conversation_id) {
                Some((_, n)) => *n += 1,
                None => counts.push((&req.conversation_id, 1)),
            }
            Plan::New
        })
        .collect();

    // The first new message of each conversation takes the seq and rev after
    // the counters' old values; the next ones follow.
    let mut next = bump_all(conn, backend, &counts, now).await?;
    let mut rows = Vec::new();
    let mut numbered = Vec::with_capacity(jobs.len());
    for ((id, req), plan) in jobs.iter().zip(&plans) {
        if !matches!(plan, Plan::New) {
            numbered.push(None);
            continue;
        }
        let (seq, rev) = next
            .get_mut(&req.conversation_id)
            .ok_or(sqlx::Error::RowNotFound)?;
        *seq += 1;
        *rev += 1;
        numbered.push(Some((*seq, *rev)));
        rows.push((*id, *req, *seq, *rev));
    }
    insert_all(conn, backend, &rows, now).await?;

    let mut outcomes: Vec<Outcome> = Vec::with_capacity(jobs.len());
    for (i, ((id, req), plan)) in jobs.iter().zip(plans).enumerate() {
        let outcome = match plan {
            Plan::New => {
                let (seq, rev) = numbered[i].expect("a new message is numbered");
                Ok((
                    Applied::Sent(Sent::New(new_message(id, req, seq, rev, now))),
                    req.members.clone(),
                ))
            }
            Plan::Existing(conversation_id, seq) => {
                let message = message_at(conn, &conversation_id, seq)
                    .await?
                    .ok_or(sqlx::Error::RowNotFound)?;
                Ok((Applied::Sent(Sent::Existing(message)), req.members.clone()))
            }
            Plan::SameAs(first) => match &outcomes[first] {
                Ok((Applied::Sent(Sent::New(m) | Sent::Existing(m)), members)) => {
                    Ok((Applied::Sent(Sent::Existing(m.clone())), members.clone()))
                }
                other => other.clone(),
            },
            Plan::Blocked => Err(Refusal::Blocked),
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The message a plain send stores: what was bound, nothing to read back.
fn new_message(id: &MessageId, req: &SendRequest, seq: i64, rev: i64, now: i64) -> Message {
    Message {
        id: id.clone(),
        conversation_id: req.conversation_id.clone(),
        seq,
        sender_id: req.sender_id.clone(),
        user: req.sender_name.clone(),
        msg: req.msg.as_str().to_owned(),
        client_id: req.client_id.as_str().to_owned(),
        created_at: now,
        kind: MessageType::Text,
        system: None,
        reply_to: None,
        edited_at: None,
        deleted_at: None,
        reactions: Vec::new(),
        attachments: Vec::new(),
        rev,
    }
}

/// `(sender, clientId)` of the jobs already stored, with where.
async fn used_client_ids<'a>(
    conn: &mut AnyConnection,
    backend: Backend,
    jobs: &[(&MessageId, &'a SendRequest)],
) -> Result<HashMap<(&'a UserId, &'a str), (ConversationId, i64)>, sqlx::Error> {
    // The pairs as a `VALUES` list joined to the unique index: one lookup per
    // pair, and far less for the planner than an `OR` of as many conditions.
    // (SQLite scans the whole index for `(sender_id, client_id) IN (VALUES …)`.)
    // Both databases name a `VALUES` list's columns column1, column2.
    let mut sql =
        String::from("SELECT m.sender_id, m.client_id, m.conversation_id, m.seq FROM (VALUES ");
    Params::new(backend).push_tuples(&mut sql, jobs.len(), 2);
    sql.push_str(") AS v JOIN messages m ON m.sender_id = v.column1 AND m.client_id = v.column2");
    let mut query = sqlx::query_as::<_, (UserId, String, ConversationId, i64)>(&sql);
    for (_, req) in jobs {
        query = query.bind(&req.sender_id).bind(req.client_id.as_str());
    }
    let found = query.fetch_all(&mut *conn).await?;
    let mut used = HashMap::with_capacity(found.len());
    for (sender_id, client_id, conversation_id, seq) in found {
        if let Some((_, req)) = jobs
            .iter()
            .find(|(_, r)| r.sender_id == sender_id && r.client_id.as_str() == client_id)
        {
            used.insert(
                (&req.sender_id, req.client_id.as_str()),
                (conversation_id, seq),
            );
        }
    }
    Ok(used)
}

/// `(blocker, blocked)` among the pairs of the jobs' direct conversations.
async fn blocked_pairs<'a>(
    conn: &mut AnyConnection,
    backend: Backend,
    jobs: &[(&MessageId, &'a SendRequest)],
) -> Result<HashSet<(&'a UserId, &'a UserId)>, sqlx::Error> {
    let mut pairs: Vec<(&UserId, &UserId)> = Vec::new();
    for (_, req) in jobs {
        if let Members::Pair(a, b) = &req.members
            && !pairs.contains(&(a, b))
        {
            pairs.push((a, b));
        }
    }
    let mut blocked = HashSet::new();
    if pairs.is_empty() {
        return Ok(blocked);
    }
    // Each pair in both directions, as a `VALUES` list joined to the primary
    // key, like the clientId check.
    let mut sql = String::from("SELECT b.blocker_id, b.blocked_id FROM (VALUES ");
    Params::new(backend).push_tuples(&mut sql, 2 * pairs.len(), 2);
    sql.push_str(") AS v JOIN blocks b ON b.blocker_id = v.column1 AND b.blocked_id = v.column2");
    let mut query = sqlx::query_as::<_, (UserId, UserId)>(&sql);
    for (a, b) in &pairs {
        query = query.bind(*a).bind(*b).bind(*b).bind(*a);
    }
    for (blocker, blocked_id) in query.fetch_all(&mut *conn).await? {
        for &(a, b) in &pairs {
            if *a == blocker && *b == blocked_id {
                blocked.insert((a, b));
            } else if *b == blocker && *a == blocked_id {
                blocked.insert((b, a));
            }
        }
    }
    Ok(blocked)
}

/// Moves each conversation's counters by its count of new messages in one
/// statement; answers, per conversation, the values before the move (the
/// first new message takes the next ones).
async fn bump_all(
    conn: &mut AnyConnection,
    backend: Backend,
    counts: &[(&ConversationId, i64)],
    now: i64,
) -> Result<HashMap<ConversationId, (i64, i64)>, sqlx::Error> {
    if counts.is_empty() {
        return Ok(HashMap::new());
    }
    // The counts are our own integers, written into the statement. The ids
    // are bound three times (each counter's step, then the rows), in the
    // order they appear.
    let mut params = Params::new(backend);
    let now_param = params.next();
    let mut steps = [(); 2].map(|()| String::from("CASE conversations.id"));
    for step in &mut steps {
        for (_, n) in counts {
            let _ = write!(step, " WHEN {} THEN {n}", params.next());
        }
        step.push_str(" END");
    }
    let [seq_step, rev_step] = steps;
    let mut ids = String::new();
    for i in 0..counts.len() {
        let _ = write!(ids, "{}{}", if i == 0 { "" } else { ", " }, params.next());
    }
    let sql = match backend {
        Backend::Sqlite => format!(
            "UPDATE conversations SET last_activity_at = {now_param}, \
             last_seq = last_seq + {seq_step}, last_rev = last_rev + {rev_step} \
             WHERE id IN ({ids}) RETURNING id, last_seq, last_rev"
        ),
        // Rows locked in one order on every node: two runs that share
        // conversations wait for each other instead of deadlocking.
        Backend::Postgres => format!(
            "WITH locked AS (SELECT id FROM conversations WHERE id IN ({ids}) \
             ORDER BY id FOR UPDATE) \
             UPDATE conversations SET last_activity_at = {now_param}, \
             last_seq = last_seq + {seq_step}, last_rev = last_rev + {rev_step} \
             FROM locked WHERE conversations.id = locked.id \
             RETURNING conversations.id, conversations.last_seq, conversations.last_rev"
        ),
    };
    let mut query = sqlx::query_as::<_, (ConversationId, i64, i64)>(&sql)
        .persistent(false)
        .bind(now);
    for (id, _) in counts.iter().chain(counts).chain(counts) {
        query = query.bind(*id);
    }
    let moved = query.fetch_all(&mut *conn).await?;
    if moved.len() != counts.len() {
        return Err(sqlx::Error::RowNotFound);
    }
    Ok(moved
        .into_iter()
        .map(|(id, seq, rev)| {
            let n = counts
                .iter()
                .find(|(c, _)| **c == id)
                .map_or(0, |(_, n)| *n);
            (id, (seq - n, rev - n))
        })
        .collect())
}

/// One insert for every new message of the run.
async fn insert_all(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: &[(&MessageId, &SendRequest, i64, i64)],
    now: i64,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO messages (conversation_id, seq, id, sender_id, msg, client_id, created_at, \
         type, system, reply_to, rev) VALUES ",
    );
    let mut params = Params::new(backend);
    // seq, rev and the time are our own integers, written into the statement.
    for (i, (_, _, seq, rev)) in rows.iter().enumerate() {
        let _ = write!(
            sql,
            "{}({}, {seq}, {}, {}, {}, {}, {now}, 'text', NULL, NULL, {rev})",
            if i == 0 { "" } else { ", " },
            params.next(),
            params.next(),
            params.next(),
            params.next(),
            params.next(),
        );
    }
    let mut query = sqlx::query(&sql).persistent(false);
    for (id, req, _, _) in rows {
        query = query
            .bind(&req.conversation_id)
            .bind(*id)
            .bind(&req.sender_id)
            .bind(req.msg.as_str())
            .bind(req.client_id.as_str());
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
