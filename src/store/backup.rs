//! Online backup to one file, and restore into an empty store.
//!
//! A backup holds the change log `1..=S`, where `S` is the last durable sequence number
//! when the backup starts, each event followed by the immutable record it created (the
//! revision, or the withdrawal), then the live idempotency records of those changes,
//! then the audit records `1..=A`, where `A` is the last durable audit sequence number,
//! read before `S` (so every write's record in the backup comes with its write).
//! Revisions and withdrawals are never rewritten, so reading them while writers go on
//! still gives exactly the store as it was at `S`: a consistent snapshot without pausing
//! writers. Restore replays the events through the same code as live writes, so heads,
//! indexes and counters come out as they were.
//!
//! File format (integers big-endian):
//!
//! ```text
//! "NIANBAO-BACKUP\n" (15 bytes) ‖ u32 format version (2; version 1, without audit
//!   records, is still read)
//! frame*: u8 kind ‖ u32 length ‖ payload (protobuf) ‖ u32 CRC-32 of kind, length, payload
//!   kind 1 header (BackupHeader), 2 ChangeEvent, 3 ReportRevision,
//!   4 WithdrawalRecord, 5 idempotency record (BackupIdem),
//!   6 trailer (BackupTrailer: counts, SHA-256 of every byte before the trailer frame),
//!   7 audit record (AuditRecord, the stored bytes)
//! ```
//!
//! The trailer is the last frame and nothing follows it; a file without one (an
//! interrupted backup) is refused. The file is written under `<path>.partial` and renamed
//! into place when complete.
//!
//! Audit records are copied as they are stored and restored as they are: a restore
//! neither recomputes nor repairs the chain, so a broken chain stays detectable.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use prost::Message;
use sha2::{Digest, Sha256};

use crate::names::ReportName;
use crate::pb::{AuditRecord, ChangeEvent, ChangeKind, ReportRevision};

use super::keys;
use super::records::{
    decode, BackupHeader, BackupIdem, BackupTrailer, IdemRecord, WithdrawalRecord,
};
use super::tx::{abort, attributes_of, Abort, Counters, NewRevision};
use super::{timestamp, Store, StoreConfig, StoreError, SCHEMA_VERSION};

const MAGIC: &[u8; 15] = b"NIANBAO-BACKUP\n";
const FORMAT_VERSION: u32 = 2;
/// The oldest backup format this build reads (1: no audit records).
const OLDEST_FORMAT_VERSION: u32 = 1;
const MAX_FRAME: u32 = 256 * 1024 * 1024;

const K_HEADER: u8 = 1;
const K_EVENT: u8 = 2;
const K_REVISION: u8 = 3;
const K_WITHDRAWAL: u8 = 4;
const K_IDEM: u8 = 5;
const K_TRAILER: u8 = 6;
const K_AUDIT: u8 = 7;

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// The backup is the store as of this change-log sequence number.
    pub sequence: u64,
    pub revisions: u64,
    pub withdrawals: u64,
    pub idempotency_records: u64,
    pub audit_records: u64,
    /// Size of the backup file.
    pub bytes: u64,
}

/// What a restore wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSummary {
    /// The restored store is at this change-log sequence number.
    pub sequence: u64,
    pub reports: u64,
    pub revisions: u64,
    pub withdrawals: u64,
    pub idempotency_records: u64,
    pub audit_records: u64,
}

/// Writes frames and hashes everything it writes.
struct FrameWriter {
    out: BufWriter<File>,
    hash: Sha256,
    bytes: u64,
    path: PathBuf,
}

impl FrameWriter {
    fn raw(&mut self, b: &[u8]) -> Result<(), StoreError> {
        self.out.write_all(b).map_err(|source| StoreError::Io {
            action: "write the backup",
            path: self.path.clone(),
            source,
        })?;
        self.hash.update(b);
        self.bytes += b.len() as u64;
        Ok(())
    }

    fn frame(&mut self, kind: u8, payload: &[u8]) -> Result<(), StoreError> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_FRAME)
            .ok_or_else(|| {
                StoreError::corrupt("a stored record is too large for a backup frame")
            })?;
        let mut head = [0u8; 5];
        head[0] = kind;
        head[1..].copy_from_slice(&len.to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(payload);
        self.raw(&head)?;
        self.raw(payload)?;
        self.raw(&crc.finalize().to_be_bytes())
    }
}

/// Reads and checks frames.
struct FrameReader {
    input: BufReader<File>,
    hash: Sha256,
    path: PathBuf,
}

impl FrameReader {
    fn open(path: &Path) -> Result<FrameReader, StoreError> {
        let file = File::open(path).map_err(|source| StoreError::Io {
            action: "open the backup",
            path: path.to_path_buf(),
            source,
        })?;
        let mut r = FrameReader {
            input: BufReader::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            path: path.to_path_buf(),
        };
        let mut head = [0u8; 19];
        if !r.read_exact_or_eof(&mut head)? || &head[..15] != MAGIC {
            return Err(r.invalid("it does not start with the nianbao backup header"));
        }
        let version = u32::from_be_bytes([head[15], head[16], head[17], head[18]]);
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(r.invalid(&format!(
                "backup format version {version}, this build reads versions \
                 {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}"
            )));
        }
        r.hash.update(head);
        Ok(r)
    }

    fn invalid(&self, detail: &str) -> StoreError {
        StoreError::InvalidBackup {
            path: self.path.clone(),
            detail: detail.to_string(),
        }
    }

    /// Fills `buf`; false at a clean end of file before the first byte.
    fn read_exact_or_eof(&mut self, buf: &mut [u8]) -> Result<bool, StoreError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.input.read(&mut buf[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => return Err(self.invalid("it ends in the middle of a frame (truncated)")),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        action: "read the backup",
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
        Ok(true)
    }

    /// The next frame, `None` at end of file.
    fn next(&mut self) -> Result<Option<(u8, Vec<u8>)>, StoreError> {
        let mut head = [0u8; 5];
        if !self.read_exact_or_eof(&mut head)? {
            return Ok(None);
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if len > MAX_FRAME {
            return Err(self.invalid("a frame length is out of range (damaged)"));
        }
        let mut payload = vec![0u8; len as usize];
        let mut crc = [0u8; 4];
        if !self.read_exact_or_eof(&mut payload)? && len > 0 {
            return Err(self.invalid("it ends in the middle of a frame (truncated)"));
        }
        if !self.read_exact_or_eof(&mut crc)? {
            return Err(self.invalid("it ends in the middle of a frame (truncated)"));
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&head);
        h.update(&payload);
        if h.finalize().to_be_bytes() != crc {
            return Err(self.invalid("a frame's checksum does not match (damaged)"));
        }
        if head[0] != K_TRAILER {
            self.hash.update(head);
            self.hash.update(&payload);
            self.hash.update(crc);
        }
        Ok(Some((head[0], payload)))
    }

    fn decode<M: Message + Default>(&self, payload: &[u8], what: &str) -> Result<M, StoreError> {
        M::decode(payload)
            .map_err(|e| self.invalid(&format!("a {what} frame does not decode: {e}")))
    }
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> StoreError + 'p {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    /// Writes a consistent snapshot of the store (as of the last durable change) to the
    /// file `path`, while the store stays open for reads and writes. Refuses to overwrite
    /// an existing file.
    pub fn backup(&self, path: &Path) -> Result<BackupSummary, StoreError> {
        if path.exists() {
            return Err(StoreError::Io {
                action: "write the backup to",
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "the file exists; choose a new file name",
                ),
            });
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(io("create", &partial))?;
        let mut w = FrameWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            bytes: 0,
            path: partial.clone(),
        };
        let result = self.write_backup(&mut w);
        let summary = match result {
            Ok(s) => s,
            Err(e) => {
                drop(w);
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        let file = w.out.into_inner().map_err(|e| StoreError::Io {
            action: "write the backup",
            path: partial.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io("sync", &partial))?;
        drop(file);
        std::fs::rename(&partial, path).map_err(io("rename the finished backup to", path))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        tracing::info!(path = %path.display(), sequence = summary.sequence, bytes = summary.bytes, "backup written");
        Ok(summary)
    }

    fn write_backup(&self, w: &mut FrameWriter) -> Result<BackupSummary, StoreError> {
        let trees = &self.inner.trees;
        // The audit sequence first (see the module docs and `commit.rs`).
        let audit_sequence = *self.inner.audit_durable.borrow();
        let sequence = *self.inner.durable.borrow();
        w.raw(MAGIC)?;
        w.raw(&FORMAT_VERSION.to_be_bytes())?;
        let header = BackupHeader {
            schema_version: SCHEMA_VERSION,
            sequence,
            created: Some(timestamp(SystemTime::now())),
            audit_sequence,
        };
        w.frame(K_HEADER, &header.encode_to_vec())?;
        let mut summary = BackupSummary {
            sequence,
            revisions: 0,
            withdrawals: 0,
            idempotency_records: 0,
            audit_records: 0,
            bytes: 0,
        };
        let sled_err = |e| StoreError::sled("reading the store for a backup", e);
        let mut expected = 1u64;
        if sequence > 0 {
            for kv in trees
                .changes
                .range(keys::seq_key(1)..=keys::seq_key(sequence))
            {
                let (_, v) = kv.map_err(sled_err)?;
                let event: ChangeEvent = decode(&v, "change event")?;
                if event.sequence != expected {
                    return Err(StoreError::corrupt(format!(
                        "the change log jumps from {} to {}",
                        expected - 1,
                        event.sequence
                    )));
                }
                expected += 1;
                let name = ReportName::from_str(&event.name)
                    .map_err(|e| StoreError::corrupt(format!("change {}: {e}", event.sequence)))?;
                let rk = keys::revision_key(&keys::name_key(&name), event.revision);
                w.frame(K_EVENT, &v)?;
                match ChangeKind::try_from(event.kind) {
                    Ok(ChangeKind::Submitted) => {
                        // A revision's body is stored under its submission's sequence.
                        let body = trees.bodies.get(keys::seq_key(event.sequence));
                        let rev = body.map_err(sled_err)?.ok_or_else(|| {
                            StoreError::corrupt(format!(
                                "change {} names {} revision {}, which is missing",
                                event.sequence, event.name, event.revision
                            ))
                        })?;
                        w.frame(K_REVISION, &rev)?;
                        summary.revisions += 1;
                    }
                    Ok(ChangeKind::Withdrawn) => {
                        let rec =
                            trees
                                .withdrawals
                                .get(&rk)
                                .map_err(sled_err)?
                                .ok_or_else(|| {
                                    StoreError::corrupt(format!(
                                "change {} withdraws {} revision {}, but no withdrawal is stored",
                                event.sequence, event.name, event.revision
                            ))
                                })?;
                        w.frame(K_WITHDRAWAL, &rec)?;
                        summary.withdrawals += 1;
                    }
                    _ => {
                        return Err(StoreError::corrupt(format!(
                            "change {} has unknown kind {}",
                            event.sequence, event.kind
                        )))
                    }
                }
            }
        }
        if expected != sequence + 1 {
            return Err(StoreError::corrupt(format!(
                "the change log ends at {} but the store is at {sequence}",
                expected - 1
            )));
        }
        for kv in trees.idempotency.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            let record: IdemRecord = decode(&v, "idempotency record")?;
            if record.sequence > sequence {
                continue;
            }
            let item = BackupIdem {
                request_id: String::from_utf8_lossy(&k).into_owned(),
                record: Some(record),
            };
            w.frame(K_IDEM, &item.encode_to_vec())?;
            summary.idempotency_records += 1;
        }
        if audit_sequence > 0 {
            // One frame per record, as stored (blocks are the store's own layout).
            for kv in trees
                .audit
                .range(keys::seq_key(1)..=keys::seq_key(audit_sequence))
            {
                let (k, v) = kv.map_err(sled_err)?;
                let first = <[u8; 8]>::try_from(k.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::corrupt("an audit key that is not 8 bytes"))?;
                let parts = super::audit::split_block(&v)
                    .map_err(|e| StoreError::corrupt(format!("audit block {first}: {e}")))?;
                for (i, part) in parts.into_iter().enumerate() {
                    if first.saturating_add(i as u64) > audit_sequence {
                        break;
                    }
                    w.frame(K_AUDIT, part)?;
                    summary.audit_records += 1;
                }
            }
        }
        let trailer = BackupTrailer {
            events: sequence,
            revisions: summary.revisions,
            withdrawals: summary.withdrawals,
            idempotency: summary.idempotency_records,
            sha256: w.hash.clone().finalize().to_vec(),
            audit_records: summary.audit_records,
        };
        w.frame(K_TRAILER, &trailer.encode_to_vec())?;
        summary.bytes = w.bytes;
        Ok(summary)
    }

    /// Restores the backup file `path` into the store `cfg` describes, which must be
    /// empty (a new directory, or a store that never had a write): anything else is
    /// [`StoreError::NotEmpty`]. The whole file is verified (checksums, trailer, event
    /// order) before anything is written. The store is closed again when this returns.
    pub fn restore(cfg: &StoreConfig, path: &Path) -> Result<RestoreSummary, StoreError> {
        let store = Store::open(cfg)?;
        store.check_empty()?;
        // Pass 1: verify everything.
        let header = verify(path)?;
        // Pass 2: apply.
        let mut r = FrameReader::open(path)?;
        let mut summary = RestoreSummary {
            sequence: header.sequence,
            reports: 0,
            revisions: 0,
            withdrawals: 0,
            idempotency_records: 0,
            audit_records: 0,
        };
        let trees = &store.inner.trees;
        while let Some((kind, payload)) = r.next()? {
            match kind {
                K_HEADER | K_TRAILER => {}
                K_EVENT => {
                    let event: ChangeEvent = r.decode(&payload, "change event")?;
                    let Some((kind2, record)) = r.next()? else {
                        return Err(r.invalid("an event without its record"));
                    };
                    let name = ReportName::from_str(&event.name)
                        .map_err(|e| r.invalid(&format!("change {}: {e}", event.sequence)))?;
                    let nk = keys::name_key(&name);
                    let submitted = kind2 == K_REVISION;
                    let invalid = || {
                        r.invalid(&format!(
                            "change {} does not follow from the changes before it",
                            event.sequence
                        ))
                    };
                    let applied = if submitted {
                        let rev: ReportRevision = r.decode(&record, "revision")?;
                        let attributes = attributes_of(&rev);
                        let new = NewRevision {
                            number: rev.revision,
                            etag: &rev.etag,
                            bytes: &record,
                            attributes: &attributes,
                            submit_time: rev.submit_time,
                        };
                        trees.transaction(|tx| {
                            let next = tx.counters()?.sequence + 1;
                            let head = tx.head(&nk)?;
                            let number = head.as_ref().map_or(0, |h| h.latest_revision()) + 1;
                            if event.sequence != next
                                || rev.revision != number
                                || rev.name != event.name
                            {
                                return abort(invalid());
                            }
                            tx.apply_submit(&name, &nk, head.as_ref(), &new)?;
                            Ok(head.is_none())
                        })
                    } else {
                        let rec: WithdrawalRecord = r.decode(&record, "withdrawal")?;
                        trees.transaction(|tx| {
                            let next = tx.counters()?.sequence + 1;
                            let head = tx.head(&nk)?;
                            let Some((head, w)) = head.zip(rec.withdrawal.clone()) else {
                                return abort(invalid());
                            };
                            if event.sequence != next
                                || rec.sequence != next
                                || head.withdrawal().is_some()
                                || w.revision != head.latest_revision()
                            {
                                return abort(invalid());
                            }
                            let (_, stored) =
                                tx.apply_withdraw(&name, &nk, &head, w, rec.etag.clone())?;
                            if stored != rec {
                                return abort(invalid());
                            }
                            Ok(false)
                        })
                    };
                    let new_report = applied.map_err(Abort::into_error)?;
                    // The event the store derived must be the one in the backup.
                    let stored = trees
                        .changes
                        .get(keys::seq_key(event.sequence))
                        .map_err(|e| StoreError::sled("restoring", e))?
                        .map(|v| ChangeEvent::decode(v.as_ref()));
                    if !matches!(stored, Some(Ok(ref s)) if *s == event) {
                        return Err(r.invalid(&format!(
                            "change {} does not match the record it comes with",
                            event.sequence
                        )));
                    }
                    if submitted {
                        summary.revisions += 1;
                        summary.reports += u64::from(new_report);
                    } else {
                        summary.withdrawals += 1;
                    }
                }
                K_IDEM => {
                    let item: BackupIdem = r.decode(&payload, "idempotency record")?;
                    let Some(record) = item.record else {
                        return Err(r.invalid("an empty idempotency record"));
                    };
                    trees
                        .transaction(|tx| tx.put_idem(&item.request_id, &record))
                        .map_err(Abort::into_error)?;
                    summary.idempotency_records += 1;
                }
                K_AUDIT => {
                    // Stored as it is: `verify` checked that it decodes and is next.
                    let record: AuditRecord = r.decode(&payload, "audit record")?;
                    trees
                        .transaction(|tx| tx.restore_audit(&record, &payload))
                        .map_err(Abort::into_error)?;
                    summary.audit_records += 1;
                }
                _ => return Err(r.invalid("an unexpected frame")),
            }
        }
        store.flush_blocking()?;
        tracing::info!(path = %path.display(), sequence = summary.sequence, revisions = summary.revisions, "backup restored");
        Ok(summary)
    }

    fn check_empty(&self) -> Result<(), StoreError> {
        let t = &self.inner.trees;
        let non_empty: Vec<&str> = [
            ("bodies", &t.bodies),
            ("revisions", &t.revisions),
            ("heads", &t.heads),
            ("withdrawals", &t.withdrawals),
            ("changes", &t.changes),
            ("idempotency", &t.idempotency),
            ("audit", &t.audit),
        ]
        .iter()
        .filter(|(_, tree)| !tree.is_empty())
        .map(|(n, _)| *n)
        .collect();
        let sequence = Counters::read(&t.meta)?.sequence;
        if non_empty.is_empty() && sequence == 0 {
            return Ok(());
        }
        Err(StoreError::NotEmpty {
            path: self.inner.path.clone(),
            detail: if non_empty.is_empty() {
                format!("it is at change {sequence}")
            } else {
                format!("it has {}", non_empty.join(", "))
            },
        })
    }
}

/// Reads the whole backup and checks it: frame checksums, kinds and order, event
/// sequence, counts and the trailer's SHA-256. Returns the header.
fn verify(path: &Path) -> Result<BackupHeader, StoreError> {
    let mut r = FrameReader::open(path)?;
    let header: BackupHeader = match r.next()? {
        Some((K_HEADER, p)) => r.decode(&p, "header")?,
        _ => return Err(r.invalid("the header frame is missing")),
    };
    if header.schema_version > SCHEMA_VERSION {
        return Err(r.invalid(&format!(
            "it was made by a newer nianbao (schema version {}, this build knows {SCHEMA_VERSION})",
            header.schema_version
        )));
    }
    let (mut events, mut revisions, mut withdrawals, mut idem) = (0u64, 0u64, 0u64, 0u64);
    let mut audit = 0u64;
    let mut pending: Option<ChangeEvent> = None;
    loop {
        let Some((kind, payload)) = r.next()? else {
            return Err(r.invalid("it has no trailer (the backup was interrupted or truncated)"));
        };
        if let Some(event) = pending.take() {
            let expect = match ChangeKind::try_from(event.kind) {
                Ok(ChangeKind::Submitted) => K_REVISION,
                Ok(ChangeKind::Withdrawn) => K_WITHDRAWAL,
                _ => return Err(r.invalid("an event of unknown kind")),
            };
            if kind != expect {
                return Err(r.invalid(&format!(
                    "change {} is not followed by its record",
                    event.sequence
                )));
            }
            if kind == K_REVISION {
                let rev: ReportRevision = r.decode(&payload, "revision")?;
                if rev.name != event.name
                    || rev.revision != event.revision
                    || rev.etag != event.etag
                {
                    return Err(r.invalid(&format!(
                        "change {} does not match its revision",
                        event.sequence
                    )));
                }
                revisions += 1;
            } else {
                let rec: WithdrawalRecord = r.decode(&payload, "withdrawal")?;
                if rec.sequence != event.sequence || rec.etag != event.etag {
                    return Err(r.invalid(&format!(
                        "change {} does not match its withdrawal",
                        event.sequence
                    )));
                }
                withdrawals += 1;
            }
            continue;
        }
        match kind {
            K_EVENT => {
                let event: ChangeEvent = r.decode(&payload, "change event")?;
                if event.sequence != events + 1 || idem > 0 || audit > 0 {
                    return Err(r.invalid("the change events are out of order"));
                }
                events += 1;
                pending = Some(event);
            }
            K_IDEM => {
                if audit > 0 {
                    return Err(r.invalid("an idempotency record after the audit records"));
                }
                let _: BackupIdem = r.decode(&payload, "idempotency record")?;
                idem += 1;
            }
            K_AUDIT => {
                let record: AuditRecord = r.decode(&payload, "audit record")?;
                if record.sequence != audit + 1 {
                    return Err(r.invalid("the audit records are out of order"));
                }
                audit += 1;
            }
            K_TRAILER => {
                let t: BackupTrailer = r.decode(&payload, "trailer")?;
                let sha = r.hash.clone().finalize().to_vec();
                if t.sha256 != sha {
                    return Err(r.invalid("its SHA-256 does not match the trailer (damaged)"));
                }
                if (t.events, t.revisions, t.withdrawals, t.idempotency)
                    != (events, revisions, withdrawals, idem)
                    || events != header.sequence
                    || t.audit_records != audit
                    || audit != header.audit_sequence
                {
                    return Err(r.invalid("its counts do not match the trailer"));
                }
                if r.next()?.is_some() {
                    return Err(r.invalid("data follows the trailer"));
                }
                return Ok(header);
            }
            _ => return Err(r.invalid("an unexpected frame")),
        }
    }
}
