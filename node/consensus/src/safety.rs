//! The safe-value rule of the view change (SBFT §1.8), as a pure function over a validated
//! set of 2f+2c+1 view-change messages. Every replica recomputes it from the same set that the
//! new primary put in its new-view message, so all agree on what the new view may propose.
//!
//! Per sequence number s above the highest certified stable checkpoint `lb`:
//! 1. take the prepare certificate for s with the highest view `v_s`;
//! 2. group the reported last votes with a view above `v_s` by proposal digest; a digest
//!    with f+c+1 votes is safe (at most one can: two would need 2f+2c+2 messages);
//! 3. else the certificate's proposal is safe; 4. else nothing can have committed: Null.
//!
//! Why the numbers work (sbft.md §1.8): a fast commit had 3f+c+1 signers, of which 2f+c+1
//! honest; any 2f+2c+1 set meets them in ≥ f+c+1 replicas, each of whose last vote is for
//! the committed value (honest replicas vote for nothing else in later views, by induction),
//! while a rival value gets at most f+c reports. A slow commit had 2f+c+1 replicas with the
//! certificate, so at least one honest member of the set reports it, and no certificate of a
//! higher view can name another value.

use crate::message::{Proposal, StateCert, ViewChange};
use crate::params::Params;
use crate::types::{Digest, SeqNum, ViewNum};
use std::collections::BTreeMap;

/// What a new view must do, derived from its view-change set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewViewPlan {
    /// The highest certified stable checkpoint in the set (everything at or below it is
    /// committed and is not re-proposed).
    pub stable: Option<StateCert>,
    /// The proposal the new primary must re-issue at each sequence number in
    /// `(lower_bound, next_seq)`; a Null fills holes.
    pub restrictions: BTreeMap<SeqNum, (Digest, Proposal)>,
    /// First sequence number the new primary may fill freely.
    pub next_seq: SeqNum,
}

impl NewViewPlan {
    /// Sequence number of the stable checkpoint of the set (0 = genesis).
    pub fn lower_bound(&self) -> SeqNum {
        self.stable.as_ref().map_or(SeqNum::new(0), |c| c.seq)
    }
}

/// Applies the safe-value rule. `vcs` must be validated (distinct senders, verified
/// signatures and certificates, entries in increasing seq order).
pub fn select(params: &Params, vcs: &[ViewChange]) -> NewViewPlan {
    let stable = vcs.iter().filter_map(|v| v.stable.as_ref()).max_by_key(|c| c.seq).cloned();
    let lb = stable.as_ref().map_or(SeqNum::new(0), |c| c.seq);
    let mut max_seq = lb;
    // seq -> (best prepared (view, digest, proposal), votes: Vec<(view, digest, proposal)>)
    type Prep<'a> = Option<(ViewNum, Digest, &'a Proposal)>;
    type Votes<'a> = Vec<(ViewNum, Digest, &'a Proposal)>;
    let mut per_seq: BTreeMap<SeqNum, (Prep<'_>, Votes<'_>)> = BTreeMap::new();
    for vc in vcs {
        for e in vc.entries.iter().filter(|e| e.seq > lb) {
            let slot = per_seq.entry(e.seq).or_default();
            if let Some((cert, prop)) = &e.prepared {
                let better = match slot.0 {
                    None => true,
                    Some((v, d, _)) => (cert.view, cert.digest) > (v, d),
                };
                if better {
                    slot.0 = Some((cert.view, cert.digest, prop));
                }
                max_seq = max_seq.max(e.seq);
            }
            if let Some((view, prop)) = &e.vote {
                slot.1.push((*view, prop.digest(), prop));
                max_seq = max_seq.max(e.seq);
            }
        }
    }
    let mut restrictions = BTreeMap::new();
    let mut s = lb.next();
    while s <= max_seq {
        let chosen = per_seq.get(&s).and_then(|(prep, votes)| {
            let floor = prep.map(|(v, _, _)| v);
            let mut counts: BTreeMap<Digest, (usize, &Proposal)> = BTreeMap::new();
            for (v, d, p) in votes {
                if floor.is_none_or(|f| *v > f) {
                    counts.entry(*d).or_insert((0, p)).0 += 1;
                }
            }
            let fast = counts.into_iter().find(|(_, (k, _))| *k >= params.fast_evidence());
            match (fast, prep) {
                (Some((d, (_, p))), _) => Some((d, p.clone())),
                (None, Some((_, d, p))) => Some((*d, (*p).clone())),
                (None, None) => None,
            }
        });
        let entry = chosen.unwrap_or_else(|| (Proposal::Null.digest(), Proposal::Null));
        restrictions.insert(s, entry);
        s = s.next();
    }
    NewViewPlan { stable, restrictions, next_seq: max_seq.next() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Certificate, Signature};
    use crate::message::{Batch, SlotCert, VcEntry};
    use crate::types::ReplicaId;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn value(k: u64) -> Proposal {
        Proposal::Batch(Batch { timestamp_ms: k, txs: vec![] })
    }

    fn cert(view: u64, p: &Proposal) -> SlotCert {
        SlotCert { view: ViewNum::new(view), seq: SeqNum::new(1), digest: p.digest(), cert: Certificate::default() }
    }

    /// One replica's report for seq 1.
    #[derive(Clone, Debug, Default)]
    struct Report {
        vote: Option<(u64, Proposal)>,
        prepared: Option<(u64, Proposal)>,
    }

    fn vc(sender: usize, r: &Report) -> ViewChange {
        let entries = if r.vote.is_none() && r.prepared.is_none() {
            vec![]
        } else {
            vec![VcEntry {
                seq: SeqNum::new(1),
                vote: r.vote.clone().map(|(v, p)| (ViewNum::new(v), p)),
                prepared: r.prepared.clone().map(|(v, p)| (cert(v, &p), p)),
            }]
        };
        ViewChange { new_view: ViewNum::new(99), sender: ReplicaId::new(sender as u16), stable: None, entries, sig: Signature::default() }
    }

    fn pick(rng: &mut impl rand::Rng, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = rng.random_range(i..n);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }

    /// The safe value of seq 1 as computed from a random view-change set, where Byzantine
    /// members report any vote and any certificate that could exist.
    fn choose(
        rng: &mut impl rand::Rng,
        p: &Params,
        honest: &[Report],
        byz: &BTreeSet<usize>,
        certs: &[(u64, Proposal)],
        views: u64,
    ) -> Proposal {
        let set = pick(rng, p.n(), p.view_change_quorum());
        let vcs: Vec<ViewChange> = set
            .iter()
            .map(|&r| {
                if byz.contains(&r) {
                    let lie = Report {
                        vote: rng.random_bool(0.7).then(|| (rng.random_range(0..=views), value(rng.random_range(1..4)))),
                        prepared: (!certs.is_empty() && rng.random_bool(0.5))
                            .then(|| certs[rng.random_range(0..certs.len())].clone()),
                    };
                    vc(r, &lie)
                } else {
                    vc(r, &honest[r])
                }
            })
            .collect();
        let plan = select(p, &vcs);
        plan.restrictions.get(&SeqNum::new(1)).map_or(Proposal::Null, |(_, p)| p.clone())
    }

    /// Runs `views` views of one sequence number under the protocol's rules with f Byzantine
    /// replicas, and checks after each commit that every later view-change set keeps it.
    fn run_history(seed: u64, n: u16, f: u16, c: u16, views: u64) -> Result<(), TestCaseError> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let p = Params::new(n, f, c).unwrap();
        let byz: BTreeSet<usize> = pick(&mut rng, p.n(), p.f()).into_iter().collect();
        let mut reports = vec![Report::default(); p.n()];
        let mut certs: Vec<(u64, Proposal)> = vec![];
        let mut committed: Option<Proposal> = None;
        for w in 0..views {
            // The value honest replicas accept in view w.
            let allowed: Vec<Proposal> = if w == 0 {
                // A Byzantine primary may equivocate among values.
                if byz.contains(&p.primary(ViewNum::new(0)).index()) {
                    vec![value(1), value(2)]
                } else {
                    vec![value(rng.random_range(1..4))]
                }
            } else {
                vec![choose(&mut rng, &p, &reports, &byz, &certs, w)]
            };
            let mut votes: BTreeMap<Digest, (usize, Proposal)> = BTreeMap::new();
            for r in 0..p.n() {
                if byz.contains(&r) || !rng.random_bool(0.7) {
                    continue;
                }
                let v = allowed[rng.random_range(0..allowed.len())].clone();
                reports[r].vote = Some((w, v.clone()));
                votes.entry(v.digest()).or_insert((0, v)).0 += 1;
            }
            for (_, (k, v)) in votes {
                let signers = k + p.f();
                if signers >= p.fast_quorum() && rng.random_bool(0.5) {
                    prop_assert!(committed.as_ref().is_none_or(|x| *x == v), "model committed two values");
                    committed = Some(v.clone());
                }
                if signers >= p.slow_quorum() {
                    certs.push((w, v.clone()));
                    let mut holders = 0;
                    for r in 0..p.n() {
                        if !byz.contains(&r) && rng.random_bool(0.6) {
                            reports[r].prepared = Some((w, v.clone()));
                            holders += 1;
                        }
                    }
                    if holders + p.f() >= p.slow_quorum() && rng.random_bool(0.5) {
                        prop_assert!(committed.as_ref().is_none_or(|x| *x == v), "model committed two values");
                        committed = Some(v.clone());
                    }
                }
            }
            if let Some(x) = &committed {
                for _ in 0..8 {
                    let got = choose(&mut rng, &p, &reports, &byz, &certs, w + 1);
                    prop_assert_eq!(&got, x, "view-change set lost a committed value (view {})", w);
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn committed_value_is_always_selected(seed in any::<u64>(), cfg in 0usize..4, views in 1u64..7) {
            let (n, f, c) = [(4, 1, 0), (6, 1, 1), (7, 2, 0), (11, 2, 2)][cfg];
            run_history(seed, n, f, c, views)?;
        }
    }

    #[test]
    fn holes_become_null_and_next_seq_follows_reports() {
        let p = Params::new(4, 1, 0).unwrap();
        let a = value(1);
        let mut vcs = vec![];
        for s in 0..3 {
            let mut v = vc(s, &Report { vote: Some((0, a.clone())), prepared: None });
            if let Some(e) = v.entries.first_mut() {
                e.seq = SeqNum::new(3);
            }
            vcs.push(v);
        }
        let plan = select(&p, &vcs);
        assert_eq!(plan.next_seq, SeqNum::new(4));
        assert_eq!(plan.restrictions[&SeqNum::new(1)].1, Proposal::Null);
        assert_eq!(plan.restrictions[&SeqNum::new(3)].1, a);
    }
}
