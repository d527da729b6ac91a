//! The numeric cells of a report in a compact form ([`Projection`]): what
//! aggregation reads instead of whole revisions (decoding 100,000 revisions, texts
//! and findings included, would take seconds; a projection is a few hundred bytes).

use std::sync::OnceLock;

use super::{all_cells, CellRef, CellValue};
use crate::pb::{AnnualReport, FormatVersion};

/// Every numeric cell of both versions' tables 二 三 四, each once, in a fixed order:
/// a projection names a cell by its index here.
pub fn cells() -> &'static [CellRef] {
    static CELLS: OnceLock<Vec<CellRef>> = OnceLock::new();
    CELLS.get_or_init(|| {
        let mut all = all_cells(FormatVersion::V2021);
        for c in all_cells(FormatVersion::V2019) {
            if !all.contains(&c) {
                all.push(c);
            }
        }
        all
    })
}

/// What aggregation needs of one revision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Projection {
    pub level: i32,
    pub kind: i32,
    /// Some cell of the report's tables is blank.
    pub has_blanks: bool,
    /// (index into [`cells`], value: a count, or fen for money).
    pub values: Vec<(u16, i64)>,
}

const PROJECTION_VERSION: u8 = 1;

impl Projection {
    pub fn of(report: &AnnualReport) -> Projection {
        let version = FormatVersion::try_from(report.format_version).unwrap_or_default();
        let mine = matches!(version, FormatVersion::V2019 | FormatVersion::V2021)
            .then(|| all_cells(version))
            .unwrap_or_default();
        let mut values = Vec::new();
        let mut has_blanks = false;
        for (i, c) in cells().iter().enumerate() {
            let value = match c.get(report) {
                Some(CellValue::Int(v)) => Some(v),
                Some(CellValue::Money(m)) => m.fen,
                None => None,
            };
            match value {
                Some(v) => values.push((i as u16, v)),
                None => has_blanks |= mine.contains(c),
            }
        }
        let agency = report.agency.as_ref();
        Projection {
            level: agency.map_or(0, |a| a.level),
            kind: agency.map_or(0, |a| a.kind),
            has_blanks,
            values,
        }
    }

    /// `[version][level][kind][flags] varint(n) n × (varint index, zigzag varint value)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.values.len() * 3);
        out.push(PROJECTION_VERSION);
        out.push(u8::try_from(self.level).unwrap_or(0));
        out.push(u8::try_from(self.kind).unwrap_or(0));
        out.push(u8::from(self.has_blanks));
        varint(&mut out, self.values.len() as u64);
        for &(i, v) in &self.values {
            varint(&mut out, u64::from(i));
            varint(&mut out, ((v << 1) ^ (v >> 63)) as u64);
        }
        out
    }

    /// `None` for bytes this build did not write.
    pub fn decode(mut b: &[u8]) -> Option<Projection> {
        let (&[v, level, kind, flags], rest) = b.split_first_chunk::<4>()?;
        if v != PROJECTION_VERSION {
            return None;
        }
        b = rest;
        let n = read_varint(&mut b)?;
        let mut values = Vec::with_capacity(n.min(1024) as usize);
        for _ in 0..n {
            let i = u16::try_from(read_varint(&mut b)?).ok()?;
            let z = read_varint(&mut b)?;
            values.push((i, ((z >> 1) as i64) ^ -((z & 1) as i64)));
        }
        Some(Projection {
            level: level.into(),
            kind: kind.into(),
            has_blanks: flags & 1 == 1,
            values,
        })
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::all_cells;

    #[test]
    fn projections_round_trip() {
        let p = Projection {
            level: 4,
            kind: 2,
            has_blanks: true,
            values: vec![(0, 0), (3, 698), (200, -12), (17, i64::MAX), (18, i64::MIN)],
        };
        assert_eq!(Projection::decode(&p.encode()), Some(p));
        assert_eq!(Projection::decode(&[]), None);
        assert_eq!(Projection::decode(&[9, 0, 0, 0, 0]), None);
        // Truncated: a count promising more than is there.
        assert_eq!(Projection::decode(&[1, 0, 0, 0, 5, 1]), None);
    }

    #[test]
    fn the_cell_list_covers_both_versions_once() {
        let all = cells();
        for v in [FormatVersion::V2019, FormatVersion::V2021] {
            for c in all_cells(v) {
                assert!(all.contains(&c), "{} missing", c.path());
            }
        }
        let mut paths: Vec<String> = all.iter().map(CellRef::path).collect();
        paths.sort();
        let n = paths.len();
        paths.dedup();
        assert_eq!(paths.len(), n);
        assert!(n < u16::MAX as usize);
    }
}
