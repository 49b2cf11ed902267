//! A pool of members with QR secrets that hands out codes the way real members would present them:
//! the code of the current 30 s step, each `(member, step)` at most once (the server refuses a
//! second use). Members are taken round-robin; one whose current step is already used is skipped.

use std::sync::Mutex;

use krug::qr::{self, QrCode, QrSecret};
use krug::types::MemberId;
use time::OffsetDateTime;

/// One member the generator can scan.
pub struct PoolMember {
    /// The member.
    pub member: MemberId,
    /// Her QR secret (as her app holds it).
    pub secret: QrSecret,
    /// The last step a code of hers was handed out for.
    last_step: Option<u64>,
    /// Her spendable balance as the last receipt showed it (kopecks), for redemptions.
    pub available: i64,
}

impl PoolMember {
    /// A member with her secret.
    pub fn new(member: MemberId, secret: QrSecret) -> PoolMember {
        PoolMember { member, secret, last_step: None, available: 0 }
    }
}

/// A code handed out: the payload to scan and whose it is.
#[derive(Debug, Clone)]
pub struct Handed {
    /// `KQ1.<member>.<digits>`.
    pub qr: String,
    /// Index of the member in the pool (to report her balance back).
    pub index: usize,
    /// Her last known spendable balance.
    pub available: i64,
}

/// Round-robin code dispenser, shared by the generator's tasks.
pub struct CodePool {
    inner: Mutex<Inner>,
}

struct Inner {
    members: Vec<PoolMember>,
    cursor: usize,
}

impl CodePool {
    /// A pool over `members`.
    pub fn new(members: Vec<PoolMember>) -> CodePool {
        CodePool { inner: Mutex::new(Inner { members, cursor: 0 }) }
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.lock().members.len()
    }

    /// Whether the pool has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next member whose code for the step of `now` is unused, with that code; `None` when
    /// every member has used the current step (the caller waits for the next step or moves a
    /// virtual clock).
    pub fn next(&self, now: OffsetDateTime) -> Option<Handed> {
        let step = qr::step_at(now);
        let mut inner = self.lock();
        let n = inner.members.len();
        for _ in 0..n {
            let index = inner.cursor % n;
            inner.cursor = inner.cursor.wrapping_add(1);
            let Some(m) = inner.members.get_mut(index) else { continue };
            // `>=`, not `==`: a caller whose `now` was read just before the step moved on must not
            // be handed a step this member has already left (and used).
            if m.last_step.is_some_and(|last| last >= step) {
                continue;
            }
            m.last_step = Some(step);
            let qr = QrCode::new(m.member, qr::code_at(&m.secret, step)).to_string();
            return Some(Handed { qr, index, available: m.available });
        }
        None
    }

    /// Records the member's spendable balance from a receipt.
    pub fn set_available(&self, index: usize, available: i64) {
        if let Some(m) = self.lock().members.get_mut(index) {
            m.available = available;
        }
    }

    /// `(member id, secret base32)` of every member, for `--save-secrets`.
    pub fn export(&self) -> Vec<(MemberId, String)> {
        self.lock().members.iter().map(|m| (m.member, m.secret.to_base32())).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl CodePool {
    /// The member at `index`.
    pub fn member(&self, index: usize) -> Option<MemberId> {
        self.lock().members.get(index).map(|m| m.member)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn pool() -> CodePool {
        let member = MemberId::from_uuid(uuid::Uuid::from_u128(1));
        CodePool::new(vec![PoolMember::new(member, QrSecret::from_bytes([7; qr::QR_SECRET_LEN]))])
    }

    #[test]
    fn a_member_is_handed_each_step_once() {
        let pool = pool();
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert!(pool.next(t).is_some());
        assert!(pool.next(t).is_none());
        assert!(pool.next(t + time::Duration::seconds(30)).is_some());
    }

    #[test]
    fn a_caller_behind_the_moved_step_is_not_handed_a_step_the_member_already_left() {
        let pool = pool();
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let first = pool.next(t).unwrap();
        assert!(pool.next(t + time::Duration::seconds(30)).is_some());
        // A task that read the clock before it moved on asks for the old step again.
        assert!(pool.next(t).is_none(), "{} would be scanned twice", first.qr);
    }
}
