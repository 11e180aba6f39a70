//! Leaving a view and installing the next (SBFT §1.8): complaints (f+1 move the cluster),
//! view-change messages (joined on f+1, assembled by the new primary at 2f+2c+1), new-view
//! validation, and re-issuing the restricted proposals that `safety::select` computes.

use crate::message::{
    Complaint, ComplaintReason, Message, NewView, PrePrepare, CommitPath, VcEntry, ViewChange, vote_bytes,
};
use crate::misbehavior::Misbehavior;
use crate::output::Event;
use crate::persist::PersistRecord;
use crate::replica::{Mode, Replica};
use crate::safety::NewViewPlan;
use crate::types::{ReplicaId, SeqNum, ViewNum};
use std::collections::BTreeSet;

impl Replica {
    /// Tick: complain when the view makes no progress, holds back a transaction, or its view
    /// change takes too long (sbft.md decisions 8 and 9).
    pub(crate) fn check_progress(&mut self) {
        let since_view = self.now.since(self.view_entered_at);
        match self.mode {
            Mode::Normal => {
                // Executing committed blocks is progress too: under load the primary waits for
                // execution (`Config::execution_lead_max`), so commits pause while every
                // replica executes a large block, and that is not the primary's fault. An
                // executor that makes no progress at all for EXECUTION_STALL_MS does not count.
                let executing = self.executed < self.committed_upto
                    && self.now.since(self.last_executed_at) <= crate::limits::EXECUTION_STALL_MS;
                let quiet =
                    if executing { 0 } else { self.now.since(self.last_commit_at.max(self.view_entered_at).max(self.last_executed_at)) };
                if quiet > self.backed_off(self.cfg.empty_block_interval_ms.saturating_add(self.cfg.commit_timeout_ms)) {
                    self.complain(ComplaintReason::Timeout);
                } else if let Some((seen, id)) = self.pending_order.first()
                    && self.now.since(*seen) > self.cfg.censorship_timeout_ms
                    && since_view > self.cfg.censorship_timeout_ms
                    && self.passed_over(id)
                {
                    self.complain(ComplaintReason::Censorship);
                }
            }
            Mode::ViewChange => {
                if since_view > self.backed_off(self.cfg.view_change_timeout_ms) {
                    self.complain(ComplaintReason::ViewChangeTimeout);
                }
            }
        }
    }

    /// A base timeout doubled `timeout_doublings` times (already capped by
    /// `view_change_backoff_max_exp`); saturating, so no configured value can overflow it.
    fn backed_off(&self, base_ms: u64) -> u64 {
        base_ms.saturating_mul(1u64 << self.timeout_doublings.min(63))
    }

    /// Leaving the current view for a higher one (by a view change or a new-view message
    /// that jumps ahead): a view that committed nothing doubles the timeouts (PBFT §4.5.2),
    /// because its view change or its first round took longer than our patience, or its
    /// primary was faulty. Unlike PBFT, a commit does not reset them (`note_commit` decays
    /// them slowly): on a cluster slower than the base timeouts, the reset brought back the
    /// patience that had just failed, and the views changed for ever.
    fn leave_view(&mut self) {
        if !self.committed_in_view {
            self.timeout_doublings = self.timeout_doublings.saturating_add(1).min(self.cfg.view_change_backoff_max_exp);
        }
        self.committed_in_view = false;
        self.prompt_commits = 0;
    }

    /// A commit in this view; `round_ms` is how long its proposal took from our accepting
    /// it to its commit, when we saw the proposal. Rounds well within the base commit
    /// timeout show the cluster is fast again, and every `BACKOFF_DECAY_COMMITS` of them
    /// halve the timeouts once. A slow cluster's rounds never are (however often pipelined
    /// commits come under load), so it keeps the patience it needed to settle.
    pub(crate) fn note_commit(&mut self, round_ms: Option<u64>) {
        let prompt = self.committed_in_view && round_ms.is_some_and(|r| r.saturating_mul(2) <= self.cfg.commit_timeout_ms);
        self.committed_in_view = true;
        if !prompt || self.timeout_doublings == 0 {
            return;
        }
        self.prompt_commits += 1;
        if self.prompt_commits >= crate::limits::BACKOFF_DECAY_COMMITS {
            self.prompt_commits = 0;
            self.timeout_doublings -= 1;
        }
    }

    /// Whether the primary has been leaving out the pending transaction `id`: at least
    /// `CENSORSHIP_PROPOSALS_MIN` fresh proposals came after we saw it and none of the open
    /// ones carries it. Time alone is not evidence: on a slow cluster a transaction waits
    /// seconds for the pipeline and the primary's execution, and complaining then forced
    /// view change after view change.
    fn passed_over(&self, id: &crate::types::Digest) -> bool {
        let Some(p) = self.pending.get(id) else { return false };
        let carried = p
            .proposed_in
            .is_some_and(|seq| seq > self.committed_upto && self.slots.get(&seq).is_some_and(|s| s.pre_prepare.is_some()));
        self.fresh_proposals - p.fresh_proposals_before >= crate::limits::CENSORSHIP_PROPOSALS_MIN && !carried
    }

    /// Broadcasts one complaint about the current view.
    pub(crate) fn complain(&mut self, reason: ComplaintReason) {
        if self.complained_in == Some(self.view) {
            return;
        }
        self.complained_in = Some(self.view);
        self.event(Event::Complained(reason));
        self.broadcast(Message::Complaint(Complaint { view: self.view, reason }));
        self.on_complaint(self.cfg.id, Complaint { view: self.view, reason });
    }

    pub(crate) fn on_complaint(&mut self, from: ReplicaId, c: Complaint) {
        if c.view < self.view {
            return;
        }
        let e = self.complaints.entry(from).or_insert(c.view);
        *e = (*e).max(c.view);
        // f+1 replicas have left the current view (or want to): at least one is honest.
        let leaving = self.complaints.values().filter(|v| **v >= self.view).count();
        if leaving >= self.cfg.params.complaint_quorum() {
            self.start_view_change(self.view.next());
        }
    }

    /// Leaves the current view for `to` and sends our view-change message.
    pub(crate) fn start_view_change(&mut self, to: ViewNum) {
        assert!(to > self.view, "view change must move forward");
        self.leave_view();
        self.view = to;
        self.mode = Mode::ViewChange;
        self.view_entered_at = self.now;
        self.plan = None;
        self.slots.clear();
        self.complained_in = None;
        self.complaints.retain(|_, v| *v >= to);
        self.view_changes.retain(|_, vc| vc.new_view >= to);
        self.persist(PersistRecord::View(to));
        self.event(Event::ViewChangeStarted(to));
        self.send_view_change();
    }

    /// Builds, signs and broadcasts our view-change message for the current view.
    pub(crate) fn send_view_change(&mut self) {
        let stable = self.durable.stable.clone();
        let seqs: BTreeSet<SeqNum> =
            self.durable.votes.keys().chain(self.durable.prepared.keys()).copied().collect();
        let entries = seqs
            .into_iter()
            .filter(|s| *s > self.stable_seq())
            .map(|seq| VcEntry {
                seq,
                vote: self.durable.votes.get(&seq).cloned(),
                prepared: self.durable.prepared.get(&seq).cloned(),
            })
            .collect();
        let mut vc = ViewChange {
            new_view: self.view,
            sender: self.cfg.id,
            stable,
            entries,
            sig: crate::crypto::Signature::default(),
        };
        vc.sig = self.crypto.sign(&vc.signed_bytes());
        // Linear view change: only the new primary needs it (complaints spread the view).
        let primary = self.primary();
        self.send(primary, Message::ViewChange(Box::new(vc.clone())));
        self.view_changes.insert(self.cfg.id, vc);
        self.maybe_new_view();
    }

    /// Whether a view-change message is well formed and every certificate in it verifies.
    pub(crate) fn view_change_valid(&self, vc: &ViewChange) -> bool {
        let p = &self.cfg.params;
        if vc.sender.index() >= p.n() || !self.crypto.verify(vc.sender, &vc.signed_bytes(), &vc.sig) {
            return false;
        }
        let floor = match &vc.stable {
            Some(c) => {
                if !self.stable_cert_valid(c) {
                    return false;
                }
                c.seq
            }
            None => SeqNum::new(0),
        };
        let mut last = floor;
        for e in &vc.entries {
            if e.seq <= last {
                return false;
            }
            last = e.seq;
            if e.vote.as_ref().is_some_and(|(v, _)| *v >= vc.new_view) {
                return false;
            }
            if let Some((cert, prop)) = &e.prepared {
                let ok = cert.seq == e.seq
                    && cert.view < vc.new_view
                    && prop.digest() == cert.digest
                    && cert.cert.signers.count() >= p.slow_quorum()
                    && self.crypto.verify_certificate(p.n(), &vote_bytes(cert.view, cert.seq, &cert.digest), &cert.cert);
                if !ok {
                    return false;
                }
            }
        }
        true
    }

    pub(crate) fn on_view_change(&mut self, from: ReplicaId, vc: ViewChange) {
        if vc.sender != from || vc.new_view < self.view {
            return;
        }
        if vc.new_view == self.view && self.mode == Mode::Normal {
            // A straggler: our new-view message brings it in.
            if let Some(nv) = self.durable.new_view.clone() {
                self.send(from, Message::NewView(Box::new(nv)));
            }
            return;
        }
        if self.view_changes.get(&from).is_some_and(|old| old.new_view >= vc.new_view) {
            return;
        }
        if !self.view_change_valid(&vc) {
            self.misbehavior(Misbehavior::BadViewChange { replica: from, view: vc.new_view });
            return;
        }
        self.view_changes.insert(from, vc);
        // Join: f+1 replicas are at or beyond view w, so an honest one left the views below.
        let mut views: Vec<ViewNum> = self.view_changes.values().map(|v| v.new_view).collect();
        views.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(w) = views.get(self.cfg.params.complaint_quorum() - 1).copied()
            && w > self.view
        {
            self.start_view_change(w);
        }
        self.maybe_new_view();
    }

    /// The new primary assembles the new view once 2f+2c+1 view-change messages are in.
    fn maybe_new_view(&mut self) {
        if self.mode != Mode::ViewChange || self.primary() != self.cfg.id {
            return;
        }
        let set: Vec<ViewChange> = self
            .view_changes
            .values()
            .filter(|v| v.new_view == self.view)
            .take(self.cfg.params.view_change_quorum())
            .cloned()
            .collect();
        if set.len() < self.cfg.params.view_change_quorum() {
            return;
        }
        let nv = NewView { view: self.view, view_changes: set };
        let plan = crate::safety::select(&self.cfg.params, &nv.view_changes);
        self.install_new_view(nv.clone(), plan);
        self.broadcast(Message::NewView(Box::new(nv)));
        self.reissue_restricted();
        self.try_propose();
    }

    pub(crate) fn on_new_view(&mut self, from: ReplicaId, nv: NewView) {
        if nv.view < self.view || (nv.view == self.view && self.mode == Mode::Normal) {
            return;
        }
        let q = self.cfg.params.view_change_quorum();
        let senders: BTreeSet<ReplicaId> = nv.view_changes.iter().map(|v| v.sender).collect();
        let valid = nv.view_changes.len() >= q
            && senders.len() == nv.view_changes.len()
            && nv.view_changes.iter().all(|v| v.new_view == nv.view && self.view_change_valid(v));
        if !valid {
            self.misbehavior(Misbehavior::BadViewChange { replica: from, view: nv.view });
            return;
        }
        let plan = crate::safety::select(&self.cfg.params, &nv.view_changes);
        if nv.view > self.view && self.mode == Mode::Normal {
            self.event(Event::ViewChangeStarted(nv.view));
        }
        self.install_new_view(nv, plan);
        self.try_propose();
    }

    fn install_new_view(&mut self, nv: NewView, plan: NewViewPlan) {
        if nv.view > self.view {
            self.leave_view();
        }
        self.view = nv.view;
        self.mode = Mode::Normal;
        self.view_entered_at = self.now;
        self.slots.clear();
        self.complained_in = None;
        self.complaints.retain(|_, v| *v >= nv.view);
        self.view_changes.retain(|_, v| v.new_view > nv.view);
        self.persist(PersistRecord::NewView(Box::new(nv)));
        self.event(Event::NewViewInstalled(self.view));
        let stable = plan.stable.clone();
        self.install_plan(plan);
        if let Some(cert) = stable {
            self.stable_checked(cert);
        }
    }

    /// Adopts a new-view plan (also on restore).
    pub(crate) fn install_plan(&mut self, plan: NewViewPlan) {
        self.next_seq = plan.next_seq.max(self.committed_upto.next());
        self.seen_seq_max = self.seen_seq_max.max(SeqNum::new(plan.next_seq.get().saturating_sub(1)));
        for (_, p) in plan.restrictions.values() {
            if let Some(ts) = p.timestamp_ms() {
                self.last_timestamp_ms = self.last_timestamp_ms.max(ts);
            }
        }
        self.plan = Some(plan);
    }

    /// The new primary re-proposes every restricted sequence number in the new view.
    fn reissue_restricted(&mut self) {
        let Some(plan) = self.plan.clone() else { return };
        for (seq, (_, proposal)) in plan.restrictions {
            let pp = PrePrepare { view: self.view, seq, path: CommitPath::Fast, proposal };
            self.accept_pre_prepare(self.cfg.id, pp.clone());
            self.broadcast(Message::PrePrepare(pp));
        }
    }
}
