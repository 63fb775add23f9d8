//! Label browsing from the label index: the names, or one name's values, of the streams a
//! selection keeps, found by walking posting keys instead of visiting every stream.
//!
//! The answer is the one visiting every stream gives: a name (value) is returned when at
//! least one stream listed under it in a day partition of the range passes the caller's
//! `keep` test (in practice: the stream is known and has a block in the time range). The
//! walk stops at the first such stream of a name (value), so a name costs a few look-ups
//! however many streams carry it; `keep` is asked at most once per stream.

use std::collections::BTreeSet;

use roaring::RoaringBitmap;

use super::{select_in_day, CompiledMatcher};
use crate::model::StreamId;
use crate::store::{keys, Snapshot, StoreError};

/// One browse request: the day partitions, an optional selector, and the per-stream test.
pub struct Browse<'a, K> {
    snap: &'a Snapshot<'a>,
    tenant: &'a str,
    selector: Option<&'a [CompiledMatcher]>,
    keep: K,
    yes: RoaringBitmap,
    no: RoaringBitmap,
}

impl<'a, K: FnMut(StreamId) -> Result<bool, StoreError>> Browse<'a, K> {
    /// `selector`: only streams it selects in a day count (as the index resolves it per
    /// day); `None` for every stream of the tenant.
    pub fn new(snap: &'a Snapshot<'a>, tenant: &'a str, selector: Option<&'a [CompiledMatcher]>, keep: K) -> Self {
        Browse { snap, tenant, selector, keep, yes: RoaringBitmap::new(), no: RoaringBitmap::new() }
    }

    /// The streams of `day` the selector selects (`None`: all of them, no need to know).
    fn selected(&self, day: i64) -> Result<Option<RoaringBitmap>, StoreError> {
        match self.selector {
            Some(ms) => Ok(Some(select_in_day(self.snap, self.tenant, ms, day)?)),
            None => Ok(None),
        }
    }

    /// The stream ids in `bytes` (a serialized bitmap), within `sel`.
    fn candidates(bytes: &[u8], sel: Option<&RoaringBitmap>) -> Result<RoaringBitmap, StoreError> {
        let mut ids = RoaringBitmap::deserialize_from(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if let Some(sel) = sel {
            ids &= sel;
        }
        Ok(ids)
    }

    /// `keep` for one stream, asked at most once per stream.
    fn kept(&mut self, id: StreamId) -> Result<bool, StoreError> {
        if self.yes.contains(id) {
            return Ok(true);
        }
        if self.no.contains(id) {
            return Ok(false);
        }
        let kept = (self.keep)(id)?;
        if kept {
            self.yes.insert(id);
        } else {
            self.no.insert(id);
        }
        Ok(kept)
    }

    /// Whether any stream of `ids` is kept.
    fn any_of(&mut self, ids: &RoaringBitmap) -> Result<bool, StoreError> {
        if ids.len() > 1 && !ids.is_disjoint(&self.yes) {
            return Ok(true);
        }
        for id in ids.iter() {
            if self.kept(id)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether any stream in `bytes` (a serialized bitmap), within `sel`, is kept.
    fn any_kept(&mut self, bytes: &[u8], sel: Option<&RoaringBitmap>) -> Result<bool, StoreError> {
        let ids = Self::candidates(bytes, sel)?;
        self.any_of(&ids)
    }

    /// Label names of the kept streams in `days`.
    pub fn names(mut self, days: impl Iterator<Item = i64>) -> Result<BTreeSet<String>, StoreError> {
        let mut names = BTreeSet::new();
        for day in days {
            let sel = self.selected(day)?;
            if sel.as_ref().is_some_and(|s| s.is_empty()) {
                continue;
            }
            let partition = keys::postings_partition(self.tenant, day);
            let mut cur = self.snap.postings_cursor(&partition);
            cur.seek(&partition);
            while let Some((rest, bytes)) = cur.current() {
                let Some((name, _)) = keys::parse_postings_suffix(rest) else {
                    cur.next();
                    continue;
                };
                // The all-streams list (empty name) names nothing; a name already found
                // needs no second stream.
                if name.is_empty() || names.contains(name) {
                    let after = keys::postings_after_name(self.tenant, day, name);
                    cur.seek(&after);
                    continue;
                }
                let name = name.to_string();
                if self.any_kept(bytes, sel.as_ref())? {
                    cur.seek(&keys::postings_after_name(self.tenant, day, &name));
                    names.insert(name);
                } else {
                    cur.next();
                }
            }
            cur.status()?;
        }
        Ok(names)
    }

    /// Values of label `name` among the kept streams in `days`.
    ///
    /// Values come in string order and their streams in no useful order, so the streams
    /// are tested in a second pass in id order: `keep`'s block-key look-ups then step
    /// forward through the store instead of seeking once per value.
    pub fn values(mut self, name: &str, days: impl Iterator<Item = i64>) -> Result<BTreeSet<String>, StoreError> {
        // Sorted and distinct: values found on earlier days are looked up by binary search.
        let mut values: Vec<String> = Vec::new();
        for day in days {
            let sel = self.selected(day)?;
            if sel.as_ref().is_some_and(|s| s.is_empty()) {
                continue;
            }
            let earlier = values.len();
            let prefix = keys::postings_name(self.tenant, day, name);
            let mut cur = self.snap.postings_cursor(&prefix);
            cur.seek(&prefix);
            // Undecided values: their first candidate stream, and all candidates when more.
            let mut pending: Vec<(String, StreamId, Option<RoaringBitmap>)> = Vec::new();
            while let Some((value, bytes)) = cur.current() {
                let value = String::from_utf8_lossy(value);
                if values[..earlier].binary_search_by(|v| v.as_str().cmp(&value)).is_err() {
                    let mut ids = Self::candidates(bytes, sel.as_ref())?;
                    if !ids.is_disjoint(&self.yes) {
                        values.push(value.into_owned());
                    } else {
                        ids -= &self.no;
                        if let Some(first) = ids.min() {
                            let rest = (ids.len() > 1).then_some(ids);
                            pending.push((value.into_owned(), first, rest));
                        }
                    }
                }
                cur.next();
            }
            cur.status()?;
            let mut order: Vec<StreamId> = pending.iter().map(|p| p.1).collect();
            order.sort_unstable();
            for id in order {
                self.kept(id)?;
            }
            for (value, first, rest) in pending {
                let kept = match rest {
                    None => self.kept(first)?,
                    Some(ids) => self.any_of(&ids)?,
                };
                if kept {
                    values.push(value);
                }
            }
            if values.len() > earlier {
                values.sort_unstable();
            }
        }
        Ok(values.into_iter().collect())
    }
}
