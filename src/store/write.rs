//! Writes: submissions and withdrawals, each one transaction, acknowledged after its
//! group commit.

use std::time::SystemTime;

use prost::Message;
use sled::transaction::{ConflictableTransactionError, ConflictableTransactionResult};

use crate::pb::{ReportRevision, Withdrawal};

use super::audit::{committed_entry, WithdrawRequest};
use super::commit::FlushFailure;
use super::keys;
use super::records::{IdemRecord, OP_SUBMIT, OP_WITHDRAW};
use super::tx::{abort, attributes_of, Abort, NewRevision, Tx};
use super::{
    micros, revision_etag, sha256_hex, timestamp, withdrawal_etag, Store, StoreError, Submission,
    SubmitOutcome, WithdrawOutcome, MAX_REQUEST_ID_LEN,
};

impl Store {
    /// Stores a new revision of `s.name` and returns it once it is durable.
    ///
    /// With a request id seen within the idempotency window: the same name and input
    /// SHA-256 return the first outcome (`replayed`, nothing written); anything else is
    /// [`StoreError::IdempotencyMismatch`]. With `expected_etag`: unless it is the
    /// report's current state etag, [`StoreError::EtagMismatch`] and nothing written. A
    /// submission to a withdrawn report reinstates it with the new revision.
    ///
    /// The transaction runs on the calling thread (brief, in-memory work) once it is
    /// this writer's turn; the waits for the turn and for the flush are asynchronous.
    ///
    /// With `s.audit`, the call's audit record commits in the same transaction (see
    /// [`Submission::audit`]); a submission that does not commit appends nothing.
    pub async fn submit(&self, s: Submission) -> Result<SubmitOutcome, StoreError> {
        let outcome = {
            let _turn = self.inner.turn.lock().await;
            self.submit_commit(s, SystemTime::now())?
        };
        self.wait_durable().await?;
        Ok(outcome)
    }

    pub(super) fn submit_commit(
        &self,
        s: Submission,
        now: SystemTime,
    ) -> Result<SubmitOutcome, StoreError> {
        check_request_id(s.request_id.as_deref())?;
        if s.input_sha256.len() != 64
            || !s
                .input_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(StoreError::InvalidArgument(format!(
                "input_sha256 must be 64 lower-case hex digits, not {}",
                crate::names::echo(&s.input_sha256)
            )));
        }
        let name_str = s.name.to_string();
        let nk = keys::name_key(&s.name);
        let submit_time = timestamp(s.time.unwrap_or(now));
        let now_micros = micros(now);
        let window = self.inner.idempotency_window;
        // Everything but the revision number and etag, encoded before the transaction
        // (which holds sled's write lock): fields 1-3 and 6-12.
        let mut revision = ReportRevision {
            has_errors: s.validation.errors > 0,
            report: Some(s.report),
            validation: Some(s.validation),
            submit_time: Some(submit_time),
            submitter: s.submitter,
            input_sha256: s.input_sha256,
            request_id: s.request_id.clone().unwrap_or_default(),
            ..Default::default()
        };
        let tail = revision.encode_to_vec();
        let attributes = attributes_of(&revision);
        if let Some(within) = &s.within {
            if !within.contains(attributes.division_code.as_deref()) {
                return Err(StoreError::OutsideScope {
                    name: name_str,
                    why: match attributes.division_code.as_deref() {
                        Some(code) => format!("its division code {code} lies outside"),
                        None => "it states no division code, so it is national, which lies outside"
                            .into(),
                    },
                });
            }
        }
        revision.name = name_str.clone();
        revision.agency_id = s.name.agency.as_str().to_string();
        revision.year = s.name.year;
        let audit = s
            .audit
            .as_ref()
            .map(|e| committed_entry(e, &name_str, s.request_id.as_deref()));
        let front = ReportRevision {
            name: revision.name.clone(),
            agency_id: revision.agency_id.clone(),
            year: revision.year,
            ..Default::default()
        }
        .encode_to_vec();

        let _gate = self.inner.gate.read().unwrap_or_else(|e| e.into_inner());
        let result = self.write_transaction(|tx| {
            let head = tx.head(&nk)?;
            if let (Some(within), Some(head)) = (&s.within, &head) {
                if !within.contains(head.division_code.as_deref()) {
                    return abort(StoreError::OutsideScope {
                        name: name_str.clone(),
                        why: "the report already stored under this name belongs to a division that lies outside".into(),
                    });
                }
            }
            if let Some(rid) = s.request_id.as_deref() {
                if let Some(rec) = tx.live_idem(rid, now_micros, window)? {
                    if rec.op == OP_SUBMIT
                        && rec.name == name_str
                        && rec.content_sha256 == revision.input_sha256
                    {
                        return Err(ConflictableTransactionError::Abort(Abort::Replay(
                            Box::new(rec),
                        )));
                    }
                    return abort(idem_mismatch(rid, &rec, &name_str, OP_SUBMIT));
                }
            }
            if let Some(expected) = s.expected_etag.as_deref() {
                let current = head.as_ref().map(|h| h.etag().to_string());
                if current.as_deref() != Some(expected) {
                    return abort(StoreError::EtagMismatch {
                        name: name_str.clone(),
                        expected: expected.to_string(),
                        current,
                    });
                }
            }
            let Some(number) = head
                .as_ref()
                .map_or(Some(1), |h| h.latest_revision().checked_add(1))
            else {
                return abort(StoreError::InvalidArgument(format!(
                    "{name_str} has the maximum number of revisions"
                )));
            };
            let etag = revision_etag(&name_str, number, &revision.input_sha256, &submit_time);
            let bytes = encode_revision(&front, number, &etag, &tail);
            let new = NewRevision {
                number,
                etag: &etag,
                bytes: &bytes,
                attributes: &attributes,
                submit_time: Some(submit_time),
            };
            let (head, sequence) = tx.apply_submit(&s.name, &nk, head.as_ref(), &new)?;
            if let Some(rid) = s.request_id.as_deref() {
                tx.put_idem(
                    rid,
                    &IdemRecord {
                        op: OP_SUBMIT,
                        name: name_str.clone(),
                        content_sha256: revision.input_sha256.clone(),
                        revision: number,
                        state: None,
                        created_micros: now_micros,
                        sequence,
                    },
                )?;
            }
            if let Some(entry) = &audit {
                tx.append_audit([entry])?;
            }
            Ok((number, etag, head.state.unwrap_or_default()))
        });
        match result {
            Ok((number, etag, state)) => {
                revision.revision = number;
                revision.etag = etag;
                Ok(SubmitOutcome {
                    name: s.name,
                    revision,
                    state,
                    replayed: false,
                })
            }
            Err(Abort::Replay(rec)) => {
                let (revision, state) = self.get(&s.name, Some(rec.revision))?;
                Ok(SubmitOutcome {
                    name: s.name,
                    revision,
                    state,
                    replayed: true,
                })
            }
            Err(Abort::Err(e)) => Err(e),
        }
    }

    /// Marks `w.name` withdrawn at its latest revision, with a reason; returns the new
    /// state once it is durable. Nothing is erased: the revisions stay readable, and the
    /// withdrawal stays recorded after a later submission reinstates the report.
    ///
    /// Errors: [`StoreError::NotFound`], [`StoreError::AlreadyWithdrawn`],
    /// [`StoreError::EtagMismatch`] (checked in that order), and the request-id rules of
    /// [`Store::submit`] (a retry must name the same report and reason). With
    /// `w.audit`, the call's audit record commits in the withdrawal's transaction (code
    /// 0, as for a submission); a withdrawal that does not commit appends nothing.
    pub async fn withdraw(&self, w: WithdrawRequest) -> Result<WithdrawOutcome, StoreError> {
        let outcome = {
            let _turn = self.inner.turn.lock().await;
            self.withdraw_commit(&w, SystemTime::now())?
        };
        self.wait_durable().await?;
        Ok(outcome)
    }

    fn withdraw_commit(
        &self,
        w: &WithdrawRequest,
        now: SystemTime,
    ) -> Result<WithdrawOutcome, StoreError> {
        let (name, reason, by) = (&w.name, w.reason.as_str(), w.by.as_str());
        let expected_etag = w.expected_etag.as_deref();
        let request_id = w.request_id.as_deref();
        check_request_id(request_id)?;
        let name_str = name.to_string();
        let nk = keys::name_key(name);
        let now_micros = micros(now);
        let window = self.inner.idempotency_window;
        let content = sha256_hex(reason.as_bytes());
        let audit = w
            .audit
            .as_ref()
            .map(|e| committed_entry(e, &name_str, request_id));
        let _gate = self.inner.gate.read().unwrap_or_else(|e| e.into_inner());
        let result = self.write_transaction(|tx| {
            let head = tx.head(&nk)?;
            if let Some(h) = &head {
                let division = h.division_code.as_deref();
                if w.read_scope.as_ref().is_some_and(|s| !s.contains(division)) {
                    // Outside what the caller may see: as if it did not exist.
                    return abort(StoreError::NotFound {
                        name: name_str.clone(),
                    });
                }
                if w.write_scope
                    .as_ref()
                    .is_some_and(|s| !s.contains(division))
                {
                    return abort(StoreError::OutsideScope {
                        name: name_str.clone(),
                        why: "its division lies outside".into(),
                    });
                }
            }
            if let Some(rid) = request_id {
                if let Some(rec) = tx.live_idem(rid, now_micros, window)? {
                    if rec.op == OP_WITHDRAW
                        && rec.name == name_str
                        && rec.content_sha256 == content
                    {
                        return Err(ConflictableTransactionError::Abort(Abort::Replay(
                            Box::new(rec),
                        )));
                    }
                    return abort(idem_mismatch(rid, &rec, &name_str, OP_WITHDRAW));
                }
            }
            let Some(head) = head else {
                return abort(StoreError::NotFound {
                    name: name_str.clone(),
                });
            };
            if let Some(w) = head.withdrawal() {
                return abort(StoreError::AlreadyWithdrawn {
                    name: name_str.clone(),
                    revision: w.revision,
                });
            }
            if let Some(expected) = expected_etag {
                if head.etag() != expected {
                    return abort(StoreError::EtagMismatch {
                        name: name_str.clone(),
                        expected: expected.to_string(),
                        current: Some(head.etag().to_string()),
                    });
                }
            }
            let withdrawal = Withdrawal {
                revision: head.latest_revision(),
                reason: reason.to_string(),
                withdraw_time: Some(timestamp(now)),
                withdrawn_by: by.to_string(),
            };
            let etag = withdrawal_etag(head.etag(), &withdrawal);
            let (state, record) = tx.apply_withdraw(name, &nk, &head, withdrawal, etag)?;
            if let Some(rid) = request_id {
                tx.put_idem(
                    rid,
                    &IdemRecord {
                        op: OP_WITHDRAW,
                        name: name_str.clone(),
                        content_sha256: content.clone(),
                        revision: state.latest_revision,
                        state: Some(state.clone()),
                        created_micros: now_micros,
                        sequence: record.sequence,
                    },
                )?;
            }
            if let Some(entry) = &audit {
                tx.append_audit([entry])?;
            }
            Ok(state)
        });
        match result {
            Ok(state) => Ok(WithdrawOutcome {
                state,
                replayed: false,
            }),
            Err(Abort::Replay(rec)) => Ok(WithdrawOutcome {
                state: rec.state.unwrap_or_default(),
                replayed: true,
            }),
            Err(Abort::Err(e)) => Err(e),
        }
    }

    /// Refuses a write before it begins: on a failed store ([`StoreError::Failed`]),
    /// or when the disk has less free space than [`super::StoreConfig::reserved_space`]
    /// ([`StoreError::StorageFull`]).
    pub(super) fn check_writable(&self) -> Result<(), StoreError> {
        if let Some(failed) = self.inner.commit.failure() {
            return Err(failed);
        }
        let reserved = self.inner.reserved_space;
        if reserved == 0 {
            return Ok(());
        }
        match fs2::available_space(&self.inner.path) {
            Ok(available) if available < reserved => Err(StoreError::StorageFull {
                path: self.inner.path.clone(),
                available,
                reserved,
            }),
            Ok(_) => Ok(()),
            // Not knowing is no reason to refuse: sled will tell if the disk is full.
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the free space of the store's disk");
                Ok(())
            }
        }
    }

    /// A write transaction ([`super::tx::Trees::transaction`]) after
    /// [`Store::check_writable`]. An I/O error from sled fails the store: sled keeps
    /// the first I/O error of its log and refuses every later write with it.
    pub(super) fn write_transaction<T>(
        &self,
        f: impl Fn(&Tx<'_>) -> ConflictableTransactionResult<T, Abort>,
    ) -> Result<T, Abort> {
        self.check_writable().map_err(Abort::Err)?;
        self.inner.trees.transaction(f).map_err(|a| match a {
            Abort::Err(StoreError::Storage {
                context,
                source: sled::Error::Io(io),
            }) => {
                self.inner.commit.fail(FlushFailure::io(context, &io));
                Abort::Err(
                    self.inner
                        .commit
                        .failure()
                        .unwrap_or_else(|| StoreError::sled(context, sled::Error::Io(io))),
                )
            }
            other => other,
        })
    }

    /// Waits until everything committed so far is durable.
    pub(crate) async fn wait_durable(&self) -> Result<(), StoreError> {
        let target = self.inner.commit.request();
        self.inner.commit.wait(target).await
    }
}

/// The encoding of a revision from its parts: `front` (fields 1-3), the revision
/// number (4), the etag (5) and `tail` (fields 6-12). prost writes fields in tag order
/// and both number and etag are never default, so this is exactly `encode_to_vec()` of
/// the whole revision (a test checks it).
pub(crate) fn encode_revision(front: &[u8], number: u32, etag: &str, tail: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(front.len() + tail.len() + etag.len() + 16);
    b.extend_from_slice(front);
    prost::encoding::uint32::encode(4, &number, &mut b);
    prost::encoding::string::encode(5, &etag.to_string(), &mut b);
    b.extend_from_slice(tail);
    b
}

fn check_request_id(id: Option<&str>) -> Result<(), StoreError> {
    match id {
        Some(id) if id.is_empty() || id.len() > MAX_REQUEST_ID_LEN => {
            Err(StoreError::InvalidArgument(format!(
                "a request id must have 1 to {MAX_REQUEST_ID_LEN} bytes, this one has {}",
                id.len()
            )))
        }
        _ => Ok(()),
    }
}

fn idem_mismatch(request_id: &str, rec: &IdemRecord, name: &str, op: i32) -> StoreError {
    let what = |op| {
        if op == OP_SUBMIT {
            "submission"
        } else {
            "withdrawal"
        }
    };
    let detail = if rec.op != op || rec.name != name {
        format!("it was a {} of {}", what(rec.op), rec.name)
    } else if op == OP_SUBMIT {
        format!(
            "it submitted input with SHA-256 {}, this one has another",
            rec.content_sha256
        )
    } else {
        "it withdrew the report with another reason".to_string()
    };
    StoreError::IdempotencyMismatch {
        request_id: request_id.to_string(),
        detail,
    }
}
