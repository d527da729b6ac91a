//! Model test of the store: random sequences of submissions, withdrawals, etag
//! conflicts, idempotent retries, reads, listings and reopenings, run against the store
//! and against a plain in-memory model of the registry's rules; every observable result
//! (outcomes, errors, revisions, states, listing pages, the change log) must agree.

use std::collections::{BTreeMap, HashMap};

use nianbao::names::{AgencyId, ReportName, Scope};
use nianbao::pb::{
    Agency, AnnualReport, ChangeKind, ReportRevision, ReportState, ValidationResult,
};
use nianbao::store::{
    ListCursor, ListFilter, Store, StoreConfig, StoreError, Submission, WithdrawRequest,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const AGENCIES: [&str; 3] = ["a", "a-b", "ab"];
const YEARS: [i32; 2] = [2022, 2023];
const DIVISIONS: [Option<&str>; 5] = [
    Some("320602"),
    Some("321000"),
    Some("330100"),
    None,
    Some("32"),
];
const PREFIXES: [&str; 4] = ["32", "3206", "320602", "33"];
/// Read scopes a listing may be limited to ("" is national).
const SCOPES: [&[&str]; 4] = [&["32"], &["3206", "33"], &["320602"], &[""]];

fn name_of(i: usize) -> ReportName {
    ReportName::new(
        AgencyId::parse(AGENCIES[i % 3]).unwrap(),
        YEARS[(i / 3) % 2],
    )
    .unwrap()
}

/// Content variant `c`: its division, format version and error count.
fn attributes(c: u8) -> (Option<&'static str>, i32, u32) {
    let c = usize::from(c);
    (
        DIVISIONS[c % 5],
        2 + (c % 2) as i32,
        if c % 3 == 0 { 2 } else { 0 },
    )
}

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[derive(Debug, Clone)]
enum EtagChoice {
    None,
    Current,
    Stale,
}

#[derive(Debug, Clone)]
struct FilterSpec {
    year: Option<usize>,
    prefix: Option<usize>,
    agency: Option<usize>,
    format_version: Option<i32>,
    has_errors: Option<bool>,
    include_withdrawn: bool,
    within: Option<usize>,
}

impl FilterSpec {
    fn filter(&self) -> ListFilter {
        ListFilter {
            year: self.year.map(|y| YEARS[y]),
            division_prefix: self.prefix.map(|p| PREFIXES[p].to_string()),
            agency: self.agency.map(|a| AgencyId::parse(AGENCIES[a]).unwrap()),
            format_version: self.format_version,
            has_errors: self.has_errors,
            include_withdrawn: self.include_withdrawn,
            within: self.within.map(|s| Scope::new(SCOPES[s]).unwrap()),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Submit {
        name: usize,
        content: u8,
        request: Option<u8>,
        etag: EtagChoice,
    },
    Withdraw {
        name: usize,
        reason: u8,
        request: Option<u8>,
        etag: EtagChoice,
    },
    Get {
        name: usize,
        revision: Option<u32>,
    },
    List {
        filter: FilterSpec,
        page: usize,
    },
    Reopen,
}

fn etag_choice() -> impl Strategy<Value = EtagChoice> {
    prop_oneof![
        3 => Just(EtagChoice::None),
        2 => Just(EtagChoice::Current),
        1 => Just(EtagChoice::Stale),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let filter = (
        proptest::option::of(0..2usize),
        proptest::option::weighted(0.4, 0..4usize),
        proptest::option::weighted(0.3, 0..3usize),
        proptest::option::weighted(0.3, 2..4i32),
        proptest::option::weighted(0.3, any::<bool>()),
        any::<bool>(),
        proptest::option::weighted(0.4, 0..4usize),
    )
        .prop_map(
            |(year, prefix, agency, format_version, has_errors, include_withdrawn, within)| {
                FilterSpec {
                    year,
                    prefix,
                    agency,
                    format_version,
                    has_errors,
                    include_withdrawn,
                    within,
                }
            },
        );
    prop_oneof![
        6 => (0..6usize, 0..10u8, proptest::option::weighted(0.4, 0..4u8), etag_choice())
            .prop_map(|(name, content, request, etag)| Op::Submit { name, content, request, etag }),
        2 => (0..6usize, 0..2u8, proptest::option::weighted(0.4, 0..4u8), etag_choice())
            .prop_map(|(name, reason, request, etag)| Op::Withdraw { name, reason, request, etag }),
        2 => (0..6usize, proptest::option::of(0..5u32))
            .prop_map(|(name, revision)| Op::Get { name, revision }),
        3 => (filter, 1..4usize).prop_map(|(filter, page)| Op::List { filter, page }),
        1 => Just(Op::Reopen),
    ]
}

/// What the model remembers of a request id.
#[derive(Debug, Clone)]
enum Remembered {
    Submit {
        name: ReportName,
        sha: String,
        revision: Box<ReportRevision>,
    },
    Withdraw {
        name: ReportName,
        reason: String,
        state: ReportState,
    },
}

/// What the model compares of a listed report: name, latest revision, etag, withdrawn.
type Listed = (String, u32, String, bool);

#[derive(Debug, Default)]
struct ModelReport {
    revisions: Vec<ReportRevision>,
    state: ReportState,
    /// Every state etag the report has had.
    etags: Vec<String>,
}

#[derive(Debug, Default)]
struct Model {
    reports: BTreeMap<ReportName, ModelReport>,
    requests: HashMap<String, Remembered>,
    /// (kind, name, revision, etag, reason)
    events: Vec<(ChangeKind, String, u32, String, String)>,
}

impl Model {
    fn etag_for(&self, name: &ReportName, choice: &EtagChoice) -> Option<String> {
        let r = self.reports.get(name);
        match choice {
            EtagChoice::None => None,
            EtagChoice::Current => {
                Some(r.map_or_else(|| "\"0-none\"".to_string(), |r| r.state.etag.clone()))
            }
            EtagChoice::Stale => Some(
                r.and_then(|r| r.etags.iter().rev().nth(1).cloned())
                    .unwrap_or_else(|| "\"9-made-up\"".to_string()),
            ),
        }
    }

    /// The listing the store must give, in its documented order.
    fn list(&self, f: &ListFilter) -> Vec<Listed> {
        let mut out: Vec<(Vec<u8>, Listed)> = Vec::new();
        for (name, r) in &self.reports {
            let latest = r.revisions.last().unwrap();
            let report = latest.report.as_ref().unwrap();
            let div = report.agency.as_ref().unwrap().division_code.clone();
            let valid_div = div
                .as_deref()
                .filter(|d| d.len() == 6 && d.bytes().all(|b| b.is_ascii_digit()));
            let withdrawn = r.state.withdrawal.is_some();
            let ok = f.year.is_none_or(|y| y == name.year)
                && f.agency.as_ref().is_none_or(|a| *a == name.agency)
                && f.division_prefix
                    .as_deref()
                    .is_none_or(|p| valid_div.is_some_and(|d| d.starts_with(p)))
                && f.format_version.is_none_or(|v| v == report.format_version)
                && f.has_errors.is_none_or(|e| e == latest.has_errors)
                && (f.include_withdrawn || !withdrawn)
                && f.within.as_ref().is_none_or(|s| {
                    s.prefixes().iter().any(|p| {
                        p.is_empty() || valid_div.is_some_and(|d| d.starts_with(p.as_str()))
                    })
                });
            if ok {
                // Order: (division,) agency, year.
                let mut key = Vec::new();
                if f.division_prefix.is_some() {
                    key.extend_from_slice(valid_div.unwrap().as_bytes());
                }
                key.extend_from_slice(name.agency.as_str().as_bytes());
                key.push(0);
                key.extend_from_slice(&((name.year as u32) ^ 0x8000_0000).to_be_bytes());
                out.push((
                    key,
                    (
                        name.to_string(),
                        latest.revision,
                        r.state.etag.clone(),
                        withdrawn,
                    ),
                ));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, v)| v).collect()
    }
}

fn submission(name: &ReportName, content: u8) -> Submission {
    let (division, format_version, errors) = attributes(content);
    Submission {
        name: name.clone(),
        report: AnnualReport {
            agency: Some(Agency {
                name: format!("机关 {}", name.agency),
                division_code: division.map(str::to_string),
                ..Default::default()
            }),
            year: name.year,
            format_version,
            title: format!("content {content}"),
            ..Default::default()
        },
        validation: ValidationResult {
            errors,
            warnings: u32::from(content),
            ..Default::default()
        },
        submitter: "model".into(),
        input_sha256: sha(&format!("content {content}")),
        request_id: None,
        expected_etag: None,
        time: None,
        within: None,
        audit: None,
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path().join("store"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut store = Store::open(&cfg).unwrap();
    let mut model = Model::default();

    for op in ops {
        match op {
            Op::Submit {
                name,
                content,
                request,
                etag,
            } => {
                let name = name_of(name);
                let mut s = submission(&name, content);
                s.request_id = request.map(|r| format!("req-{r}"));
                s.expected_etag = model.etag_for(&name, &etag);
                let got = rt.block_on(store.submit(s.clone()));
                let remembered = s.request_id.as_ref().and_then(|r| model.requests.get(r));
                let current = model.reports.get(&name).map(|r| r.state.etag.clone());
                match remembered {
                    Some(Remembered::Submit {
                        name: n,
                        sha,
                        revision,
                    }) if *n == name && *sha == s.input_sha256 => {
                        let got = got.map_err(|e| TestCaseError::fail(format!("replay: {e}")))?;
                        prop_assert!(got.replayed);
                        prop_assert_eq!(&got.revision, &**revision);
                    }
                    Some(_) => prop_assert!(
                        matches!(got, Err(StoreError::IdempotencyMismatch { .. })),
                        "{:?}",
                        got
                    ),
                    None if s.expected_etag.is_some() && s.expected_etag != current => match got {
                        Err(StoreError::EtagMismatch { current: c, .. }) => {
                            prop_assert_eq!(c, current)
                        }
                        other => prop_assert!(false, "expected etag mismatch: {:?}", other),
                    },
                    None => {
                        let got = got.map_err(|e| TestCaseError::fail(format!("submit: {e}")))?;
                        prop_assert!(!got.replayed);
                        let r = model.reports.entry(name.clone()).or_default();
                        let rev = &got.revision;
                        prop_assert_eq!(rev.revision as usize, r.revisions.len() + 1);
                        prop_assert_eq!(&rev.name, &name.to_string());
                        prop_assert_eq!(rev.report.as_ref(), Some(&s.report));
                        prop_assert_eq!(rev.validation.as_ref(), Some(&s.validation));
                        prop_assert_eq!(rev.has_errors, s.validation.errors > 0);
                        prop_assert_eq!(&rev.input_sha256, &s.input_sha256);
                        prop_assert_eq!(&rev.request_id, &s.request_id.clone().unwrap_or_default());
                        prop_assert!(!r.etags.contains(&rev.etag), "etag reused");
                        r.revisions.push(rev.clone());
                        r.state = ReportState {
                            name: name.to_string(),
                            latest_revision: rev.revision,
                            etag: rev.etag.clone(),
                            withdrawal: None,
                            revision_count: rev.revision,
                        };
                        r.etags.push(rev.etag.clone());
                        model.events.push((
                            ChangeKind::Submitted,
                            name.to_string(),
                            rev.revision,
                            rev.etag.clone(),
                            String::new(),
                        ));
                        if let Some(rid) = s.request_id {
                            model.requests.insert(
                                rid,
                                Remembered::Submit {
                                    name,
                                    sha: s.input_sha256,
                                    revision: Box::new(rev.clone()),
                                },
                            );
                        }
                    }
                }
            }
            Op::Withdraw {
                name,
                reason,
                request,
                etag,
            } => {
                let name = name_of(name);
                let reason = format!("reason {reason}");
                let rid = request.map(|r| format!("req-{r}"));
                let expected = model.etag_for(&name, &etag);
                let got = rt.block_on(store.withdraw(WithdrawRequest {
                    name: name.clone(),
                    reason: reason.clone(),
                    by: "ops".into(),
                    expected_etag: expected.clone(),
                    request_id: rid.clone(),
                    audit: None,
                    read_scope: None,
                    write_scope: None,
                }));
                let remembered = rid.as_ref().and_then(|r| model.requests.get(r));
                let report = model.reports.get(&name);
                match remembered {
                    Some(Remembered::Withdraw {
                        name: n,
                        reason: why,
                        state,
                    }) if *n == name && *why == reason => {
                        let got = got.map_err(|e| TestCaseError::fail(format!("replay: {e}")))?;
                        prop_assert!(got.replayed);
                        prop_assert_eq!(&got.state, state);
                    }
                    Some(_) => prop_assert!(
                        matches!(got, Err(StoreError::IdempotencyMismatch { .. })),
                        "{:?}",
                        got
                    ),
                    None => match report {
                        None => prop_assert!(
                            matches!(got, Err(StoreError::NotFound { .. })),
                            "{:?}",
                            got
                        ),
                        Some(r) if r.state.withdrawal.is_some() => prop_assert!(
                            matches!(got, Err(StoreError::AlreadyWithdrawn { .. })),
                            "{:?}",
                            got
                        ),
                        Some(r)
                            if expected.is_some() && expected.as_ref() != Some(&r.state.etag) =>
                        {
                            match got {
                                Err(StoreError::EtagMismatch { current, .. }) => {
                                    prop_assert_eq!(current, Some(r.state.etag.clone()))
                                }
                                other => prop_assert!(false, "expected etag mismatch: {:?}", other),
                            }
                        }
                        Some(_) => {
                            let got =
                                got.map_err(|e| TestCaseError::fail(format!("withdraw: {e}")))?;
                            prop_assert!(!got.replayed);
                            let r = model.reports.get_mut(&name).unwrap();
                            let st = &got.state;
                            let w = st.withdrawal.as_ref().unwrap();
                            prop_assert_eq!(w.revision, r.state.latest_revision);
                            prop_assert_eq!(&w.reason, &reason);
                            prop_assert_eq!(&w.withdrawn_by, "ops");
                            prop_assert_eq!(st.latest_revision, r.state.latest_revision);
                            prop_assert_eq!(st.revision_count, r.state.revision_count);
                            prop_assert!(!r.etags.contains(&st.etag), "etag reused");
                            r.state = st.clone();
                            r.etags.push(st.etag.clone());
                            model.events.push((
                                ChangeKind::Withdrawn,
                                name.to_string(),
                                w.revision,
                                st.etag.clone(),
                                reason.clone(),
                            ));
                            if let Some(rid) = rid {
                                model.requests.insert(
                                    rid,
                                    Remembered::Withdraw {
                                        name,
                                        reason,
                                        state: st.clone(),
                                    },
                                );
                            }
                        }
                    },
                }
            }
            Op::Get { name, revision } => {
                let name = name_of(name);
                let got = store.get(&name, revision);
                match model.reports.get(&name) {
                    None => {
                        prop_assert!(matches!(got, Err(StoreError::NotFound { .. })), "{:?}", got)
                    }
                    Some(r) => {
                        let n = revision.unwrap_or(r.state.latest_revision);
                        if n == 0 || n > r.state.latest_revision {
                            prop_assert!(
                                matches!(got, Err(StoreError::RevisionNotFound { .. })),
                                "{:?}",
                                got
                            );
                        } else {
                            let (rev, state) =
                                got.map_err(|e| TestCaseError::fail(format!("get: {e}")))?;
                            prop_assert_eq!(&rev, &r.revisions[n as usize - 1]);
                            prop_assert_eq!(&state, &r.state);
                        }
                    }
                }
                let history = store.revisions(&name);
                match model.reports.get(&name) {
                    None => prop_assert!(
                        matches!(history, Err(StoreError::NotFound { .. })),
                        "{:?}",
                        history
                    ),
                    Some(r) => {
                        let mut want = r.revisions.clone();
                        want.reverse();
                        prop_assert_eq!(history.unwrap(), want);
                    }
                }
            }
            Op::List { filter, page } => {
                let f = filter.filter();
                let want = model.list(&f);
                let mut got = Vec::new();
                let mut after: Option<ListCursor> = None;
                loop {
                    let p = store
                        .list(&f, after.as_ref(), page)
                        .map_err(|e| TestCaseError::fail(format!("list {f:?}: {e}")))?;
                    got.extend(p.items.iter().map(|i| {
                        (
                            i.name.to_string(),
                            i.latest_revision,
                            i.etag.clone(),
                            i.withdrawn,
                        )
                    }));
                    match p.next {
                        Some(c) => {
                            prop_assert_eq!(p.items.len(), page);
                            after = Some(ListCursor::from_token(&c.to_token()).unwrap());
                        }
                        None => break,
                    }
                    prop_assert!(got.len() <= want.len(), "more pages than reports");
                }
                prop_assert_eq!(got, want, "listing {:?}", f);
            }
            Op::Reopen => {
                drop(store);
                store = Store::open(&cfg).unwrap();
            }
        }
    }

    // The change log, the counters and fsck agree with the model.
    let events: Vec<_> = store
        .changes(0, 10_000)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            assert_eq!(e.sequence, i as u64 + 1, "sequence numbers run 1, 2, 3...");
            (
                ChangeKind::try_from(e.kind).unwrap(),
                e.name,
                e.revision,
                e.etag,
                e.reason,
            )
        })
        .collect();
    prop_assert_eq!(events, model.events.clone());
    let stats = store.stats().unwrap();
    prop_assert_eq!(stats.reports, model.reports.len() as u64);
    prop_assert_eq!(
        stats.revisions,
        model
            .reports
            .values()
            .map(|r| r.revisions.len() as u64)
            .sum::<u64>()
    );
    let fsck = store.fsck(false).unwrap();
    prop_assert!(fsck.is_clean(), "{:?}", fsck.problems);
    Ok(())
}

/// 64 cases unless PROPTEST_CASES says otherwise (ProptestConfig::default reads it).
fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 64;
    }
    c
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_store_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}
