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
            if m.last_step == Some(step) {
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
