//! Reads: revisions, states, history, the change log.

use std::sync::Arc;

use tokio::sync::watch;

use crate::names::{AgencyId, ReportName, Scope};
use crate::pb::{ChangeEvent, ReportRevision, ReportState};

use super::keys;
use super::records::{decode, HeadRecord};
use super::{Store, StoreError};

/// A stored revision as its protobuf encoding (`nianbao.v1.ReportRevision`), read
/// without decoding or copying: what a server can send as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedRevision(sled::IVec);

impl EncodedRevision {
    /// Wraps an encoded `ReportRevision` (the store makes these; tests too).
    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: &[u8]) -> EncodedRevision {
        EncodedRevision(sled::IVec::from(bytes))
    }

    /// Decodes it.
    pub fn decode(&self) -> Result<ReportRevision, StoreError> {
        decode(&self.0, "revision")
    }
}

impl std::ops::Deref for EncodedRevision {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for EncodedRevision {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for EncodedRevision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncodedRevision({} bytes)", self.0.len())
    }
}

impl Store {
    /// A revision of `name` (the latest when `revision` is `None`) and the report's state.
    ///
    /// Errors: [`StoreError::NotFound`], [`StoreError::RevisionNotFound`].
    pub fn get(
        &self,
        name: &ReportName,
        revision: Option<u32>,
    ) -> Result<(ReportRevision, ReportState), StoreError> {
        let (sequence, state) = self.locate(name, revision, None)?;
        let cache = self.inner.decoded.as_ref();
        if let Some(hit) = cache.and_then(|c| c.get(&sequence)) {
            return Ok((ReportRevision::clone(&hit), state));
        }
        let decoded = self.body_of(name, sequence)?.decode()?;
        if let Some(c) = cache {
            c.insert(sequence, Arc::new(decoded.clone()));
        }
        Ok((decoded, state))
    }

    /// [`Store::get`] without decoding the revision: its stored encoding. Decoding a
    /// realistic revision costs several times more than finding it, so a server that
    /// sends revisions on should read them this way.
    pub fn get_encoded(
        &self,
        name: &ReportName,
        revision: Option<u32>,
    ) -> Result<(EncodedRevision, ReportState), StoreError> {
        let (sequence, state) = self.locate(name, revision, None)?;
        Ok((self.body_of(name, sequence)?, state))
    }

    /// [`Store::get_encoded`] for a caller that sees only the reports inside `within`:
    /// a report outside it is [`StoreError::NotFound`], exactly as if it did not exist.
    pub fn get_encoded_within(
        &self,
        name: &ReportName,
        revision: Option<u32>,
        within: &Scope,
    ) -> Result<(EncodedRevision, ReportState), StoreError> {
        let (sequence, state) = self.locate(name, revision, Some(within))?;
        Ok((self.body_of(name, sequence)?, state))
    }

    /// Whether `name` exists and lies inside `within` (by its latest revision's
    /// division code).
    pub fn exists_within(&self, name: &ReportName, within: &Scope) -> Result<bool, StoreError> {
        Ok(self
            .head(&keys::name_key(name))?
            .is_some_and(|h| within.contains(h.division_code.as_deref())))
    }

    /// The body key of a revision of `name` (the latest when `None`) and the state;
    /// with `within`, a report outside that scope is not found.
    fn locate(
        &self,
        name: &ReportName,
        revision: Option<u32>,
        within: Option<&Scope>,
    ) -> Result<(u64, ReportState), StoreError> {
        let nk = keys::name_key(name);
        let head = self
            .head(&nk)?
            .filter(|h| within.is_none_or(|s| s.contains(h.division_code.as_deref())))
            .ok_or_else(|| StoreError::NotFound {
                name: name.to_string(),
            })?;
        let latest = head.latest_revision();
        let number = revision.unwrap_or(latest);
        if number == 0 || number > latest {
            return Err(StoreError::RevisionNotFound {
                name: name.to_string(),
                revision: number,
                latest,
            });
        }
        let sequence = if number == latest {
            head.latest_sequence
        } else {
            self.body_sequence(&nk, number)?.ok_or_else(|| {
                StoreError::corrupt(format!(
                    "{name} has no pointer to revision {number} though its head is at {latest}"
                ))
            })?
        };
        Ok((sequence, head.state.unwrap_or_default()))
    }

    fn body_of(&self, name: &ReportName, sequence: u64) -> Result<EncodedRevision, StoreError> {
        let body = self.body(sequence)?.ok_or_else(|| {
            StoreError::corrupt(format!(
                "{name} points to revision body #{sequence}, which is missing"
            ))
        })?;
        Ok(EncodedRevision(body))
    }

    /// The current state of `name`, `None` when it was never submitted.
    pub fn state(&self, name: &ReportName) -> Result<Option<ReportState>, StoreError> {
        Ok(self
            .head(&keys::name_key(name))?
            .map(|h| h.state.unwrap_or_default()))
    }

    /// Every revision of `name`, newest first. [`StoreError::NotFound`] when none.
    pub fn revisions(&self, name: &ReportName) -> Result<Vec<ReportRevision>, StoreError> {
        let nk = keys::name_key(name);
        let mut out = Vec::new();
        for kv in self.inner.trees.revisions.scan_prefix(&nk).rev() {
            let (k, v) = kv.map_err(|e| StoreError::sled("reading revisions", e))?;
            // Another report's name key cannot extend this one (see keys.rs); a key of
            // another length is damage.
            let sequence = <[u8; 8]>::try_from(v.as_ref()).map(u64::from_be_bytes);
            let (true, Ok(sequence)) = (k.len() == nk.len() + 4, sequence) else {
                return Err(StoreError::corrupt(format!(
                    "a malformed revision pointer under {name}"
                )));
            };
            let body = self.body(sequence)?.ok_or_else(|| {
                StoreError::corrupt(format!("{name}: body #{sequence} is missing"))
            })?;
            out.push(decode(&body, "revision")?);
        }
        if out.is_empty() {
            return Err(StoreError::NotFound {
                name: name.to_string(),
            });
        }
        Ok(out)
    }

    /// Change events after `after_sequence` (exclusive), oldest first, at most `limit`,
    /// durable ones only. Sequence numbers start at 1 and have no gaps.
    pub fn changes(
        &self,
        after_sequence: u64,
        limit: usize,
    ) -> Result<Vec<ChangeEvent>, StoreError> {
        let durable = *self.inner.durable.borrow();
        let Some(first) = after_sequence.checked_add(1) else {
            return Ok(Vec::new());
        };
        if first > durable {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for kv in self
            .inner
            .trees
            .changes
            .range(keys::seq_key(first)..=keys::seq_key(durable))
            .take(limit)
        {
            let (_, v) = kv.map_err(|e| StoreError::sled("reading the change log", e))?;
            out.push(decode(&v, "change event")?);
        }
        Ok(out)
    }

    /// A receiver of the last durable change sequence number: a change feed waits on it
    /// (`changed().await`) and then reads [`Store::changes`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.durable.subscribe()
    }

    /// The latest revision of the same agency's report for `year - 1`, unless that
    /// report is missing or withdrawn (for the cross-year rules).
    pub fn previous_year(
        &self,
        agency: &AgencyId,
        year: i32,
    ) -> Result<Option<ReportRevision>, StoreError> {
        let Some(prev) = year
            .checked_sub(1)
            .and_then(|y| ReportName::new(agency.clone(), y).ok())
        else {
            return Ok(None);
        };
        let nk = keys::name_key(&prev);
        let Some(head) = self.head(&nk)? else {
            return Ok(None);
        };
        if head.withdrawal().is_some() {
            return Ok(None);
        }
        let body = self.body(head.latest_sequence)?.ok_or_else(|| {
            StoreError::corrupt(format!("{prev}: the head points to a missing revision"))
        })?;
        Ok(Some(decode(&body, "revision")?))
    }

    fn head(&self, name_key: &[u8]) -> Result<Option<HeadRecord>, StoreError> {
        match self
            .inner
            .trees
            .heads
            .get(name_key)
            .map_err(|e| StoreError::sled("reading a report head", e))?
        {
            None => Ok(None),
            Some(v) => decode(&v, "report head").map(Some),
        }
    }

    /// The body key of revision `number` of the report with `name_key`.
    fn body_sequence(&self, name_key: &[u8], number: u32) -> Result<Option<u64>, StoreError> {
        let v = self
            .inner
            .trees
            .revisions
            .get(keys::revision_key(name_key, number))
            .map_err(|e| StoreError::sled("reading a revision pointer", e))?;
        v.map(|v| {
            <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::corrupt("a revision pointer is not 8 bytes"))
        })
        .transpose()
    }

    fn body(&self, sequence: u64) -> Result<Option<sled::IVec>, StoreError> {
        self.inner
            .trees
            .bodies
            .get(keys::seq_key(sequence))
            .map_err(|e| StoreError::sled("reading a revision", e))
    }
}
